// The value tokens: the contract between the compiler and the renderer. Values are data, never
// structure: every `{{expr}}` of a template prints an opaque token instead of its value, and the
// render stage parses the YAML with only tokens in it and puts each value into the parsed tree
// afterwards, so no value ever passes through the YAML parser. A secret parameter travels wrapped
// (SecretValue), so that every place it reaches is known.
import type { DialectName } from "./config-dialects";
import type { EmitSite, ParamValue } from "./types";

/** Alphanumeric, so it is a plain scalar wherever it stands in YAML. */
export const TOKEN_PREFIX = "GMv9x";
export const TOKEN_SUFFIX = "xGM";
export const TOKEN_PATTERN = /GMv9x(\d+)xGM/g;
export const tokenFor = (i: number): string => `${TOKEN_PREFIX}${i}${TOKEN_SUFFIX}`;

/**
 * A secret parameter's value, wrapped so that every place it reaches is known. It has no property
 * of its own (its value and names are private fields), so no template path, block or lookup can
 * read into it: a template can only hand it on whole, and only {@link unwrap} takes the value out,
 * with the secret's name attached.
 */
export class SecretValue {
  readonly #names: string[];
  readonly #value: ParamValue;
  constructor(names: string[], value: ParamValue) {
    this.#names = names;
    this.#value = value;
  }
  static names(v: SecretValue): string[] {
    return v.#names;
  }
  static value(v: SecretValue): ParamValue {
    return v.#value;
  }
  // Whatever prints this by accident prints no secret.
  toString(): string {
    return "[secret]";
  }
  toJSON(): string {
    return "[secret]";
  }
}

/**
 * A value as a template handed it over, with every secret in it (at any depth: `{{this}}` at the
 * top is every parameter) replaced by its value, and the names of those secrets: whatever carries
 * any part of a secret is that secret, wherever it lands.
 */
export function unwrap(v: unknown): { value: unknown; secrets: string[] } {
  if (v instanceof SecretValue) return { value: SecretValue.value(v), secrets: SecretValue.names(v) };
  if (v === null || typeof v !== "object") return { value: v, secrets: [] };
  const secrets = new Set<string>();
  const value = revealed(v, secrets, new Set());
  return { value, secrets: [...secrets] };
}

/** A copy of `v` with its secrets' values in place of them; `v` itself when it holds none. */
function revealed(v: unknown, secrets: Set<string>, path: Set<object>): unknown {
  if (v instanceof SecretValue) {
    for (const n of SecretValue.names(v)) secrets.add(n);
    return SecretValue.value(v);
  }
  if (v === null || typeof v !== "object" || path.has(v)) return v;
  path.add(v);
  let copy: unknown[] | Record<string, unknown> | undefined;
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  for (const [k, x] of entries) {
    const y = revealed(x, secrets, path);
    if (y === x && copy === undefined) continue;
    copy ??= Array.isArray(v) ? [...v] : { ...v };
    if (typeof k === "number") (copy as unknown[])[k] = y;
    else Object.defineProperty(copy, k, { value: y, enumerable: true, writable: true, configurable: true });
  }
  path.delete(v);
  return copy ?? v;
}

/** One value printed during a render, in the order the tokens were handed out. */
export interface Emitted {
  value: unknown;
  secrets: string[];
  site: EmitSite;
  /** The format of the `{{#config}}` block it was printed in, if any (see config-dialects.ts). */
  dialect?: DialectName;
}

export interface RenderedText {
  text: string;
  emitted: Emitted[];
}

/** A place in a template or partial, 1-based; no column where the text there was computed. */
export interface SourcePlace {
  file: string;
  line: number;
  column?: number;
}

/** A render that knows, for each character of its output, which template text produced it. */
export interface TracedText extends RenderedText {
  /** Where the output at `offset` (into `text`) was written in a template or partial. */
  placeAt(offset: number): SourcePlace | undefined;
}
