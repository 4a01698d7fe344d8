// YAML as Kubernetes reads it. kubectl reads manifests with Go's yaml.v2: YAML 1.1 booleans
// (`yes`, `on`, `y`, `no`, `off`, `n` in their three cases), integers through Go's ParseInt
// (`0o17`, `0b1`, `1_000`, and `0644` is octal), but timestamps left as strings.
//
// LOAD reads templates' output the way kubectl will. DUMP writes manifests that every reader
// gets back exactly: it knows every form any YAML 1.1 or Go reader takes for a non-string
// (sexagesimal `12:30`, timestamps, `0o17`, `<<`), so js-yaml quotes each string it might
// misread. Its extra types only resolve, never represent, so numbers and booleans are still
// written as themselves. emit-yaml writes the same bytes with less garbage, asking these types
// which strings to quote.
import yaml from "js-yaml";
import { emitYaml, type ScalarRules } from "./emit-yaml";
import { inexactLiteralMessage, writesBackAs } from "./exact-integer";

const matching = (re: RegExp) => (s: string | null): boolean => s !== null && re.test(s);

const BOOL_11 = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** yaml.v2's booleans. This type takes the place of the core schema's (same tag), so it has true and false too. */
const BOOL_V2 = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE)$/;
const boolV2 = new yaml.Type("tag:yaml.org,2002:bool", {
  kind: "scalar",
  resolve: matching(BOOL_V2),
  construct: (s: string) => /^(y|yes|on|true)$/i.test(s),
  predicate: () => false,
});

/**
 * yaml.v2's numbers (resolve.go): a plain scalar that starts with a digit or a sign loses its
 * underscores and goes through Go's ParseInt with base 0 (0x, 0o, 0b, and a leading 0 for octal:
 * `defaultMode: 0644` is 420), then ParseUint, then Go's float form; one that starts with a dot
 * is a float as ParseFloat reads it. These types take the place of the core schema's (same tags).
 */
const GO_INT = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
const FLOAT_WORDS = new Map<string, number>([
  ...[".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].map((w): [string, number] => [w, Infinity]),
  ...["-.inf", "-.Inf", "-.INF"].map((w): [string, number] => [w, -Infinity]),
  ...[".nan", ".NaN", ".NAN"].map((w): [string, number] => [w, NaN]),
]);
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** yaml.v2 tries a scalar as a number only if it starts with a digit or a sign (or a dot: a float). */
function startsLikeNumber(s: string): boolean {
  const c = s.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 43 || c === 45;
}

/** The integer yaml.v2 reads, or undefined where it reads none (out of int64 and uint64 range too). */
function goInt(s: string): bigint | undefined {
  if (!startsLikeNumber(s)) return undefined;
  const m = GO_INT.exec(s.includes("_") ? s.replace(/_/g, "") : s);
  if (!m) return undefined;
  const digits = /^0[0-7]+$/.test(m[2]) ? `0o${m[2].slice(1)}` : m[2].toLowerCase();
  const v = m[1] === "-" ? -BigInt(digits) : BigInt(digits);
  return v < INT64_MIN || v > UINT64_MAX ? undefined : v;
}

/** The float yaml.v2 reads where it reads no integer, or undefined. */
function goFloat(s: string): number | undefined {
  const word = FLOAT_WORDS.get(s);
  if (word !== undefined) return word;
  if (s.startsWith(".")) return DOT_FLOAT.test(s) ? Number(s) : undefined;
  if (!startsLikeNumber(s)) return undefined;
  const plain = s.includes("_") ? s.replace(/_/g, "") : s;
  return GO_FLOAT.test(plain) && goInt(s) === undefined ? Number(plain) : undefined;
}

/** Set by the int type when it reads an integer a number cannot hold (see loadKubeDocuments). */
let inexactRead = false;

const INT_TAG = "tag:yaml.org,2002:int";
const goIntType = new yaml.Type(INT_TAG, {
  kind: "scalar",
  resolve: (s: string | null) => s !== null && goInt(s) !== undefined,
  construct: (s: string) => {
    const v = goInt(s)!;
    const n = Number(v);
    if (!writesBackAs(n, v)) inexactRead = true;
    return n;
  },
  predicate: () => false,
});

const goFloatType = new yaml.Type("tag:yaml.org,2002:float", {
  kind: "scalar",
  resolve: (s: string | null) => s !== null && goFloat(s) !== undefined,
  construct: (s: string) => goFloat(s),
  predicate: () => false,
});

/** Types that only make DUMP quote a string some reader would take as something else. */
const quoteOnly = (name: string, isAmbiguous: (s: string) => boolean) =>
  new yaml.Type(`tag:gen-manifests,2026:${name}`, { kind: "scalar", resolve: (s: string | null) => s !== null && isAmbiguous(s), construct: (s: string) => s, predicate: () => false });

export const AMBIGUOUS_FORMS = [
  BOOL_11,
  /^(~|null|Null|NULL|)$/,
  /^[-+]?(0[bB][0-1_]+|0[oO]?[0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])*)$/,
  // Go's float form, and YAML 1.1's own, under which even `.` and `1.2.3` are floats.
  /^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?$|^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/,
  // Broader than any one reader: signs, digits, dots, underscores and colons read as a number somewhere.
  /^[-+]?[0-9._:]*([eE][-+]?[0-9_]+)?$/,
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+|$)/,
  /^<<$/,
];

/** Every form above starts with one of these (or is empty): most strings are settled by one test. */
const MAY_BE_AMBIGUOUS = /^(?:[-+.0-9_:~<eEyYnNoO]|$)/;

export const isAmbiguous = (s: string): boolean => MAY_BE_AMBIGUOUS.test(s) && AMBIGUOUS_FORMS.some((re) => re.test(s));

const AMBIGUOUS = [quoteOnly("ambiguous", isAmbiguous)];

const mergeType = (yaml.DEFAULT_SCHEMA as unknown as { compiledImplicit: (yaml.Type & { tag: string })[] }).compiledImplicit.find((t) => t.tag === "tag:yaml.org,2002:merge");

const LOAD_TYPES = [boolV2, goIntType, goFloatType];
export const KUBE_LOAD_SCHEMA = yaml.CORE_SCHEMA.extend({ implicit: [...LOAD_TYPES, ...(mergeType ? [mergeType] : [])] });
export const KUBE_DUMP_SCHEMA = yaml.CORE_SCHEMA.extend({ implicit: AMBIGUOUS });

/**
 * An integer that kubectl reads exactly (Go's int64) but a JavaScript number cannot hold: it would
 * be written back as another number. Refused instead, where it stands in the text.
 */
export class InexactInteger extends yaml.YAMLException {}

/** Every document of a text, as kubectl reads them; throws js-yaml's YAMLException with a mark. */
export function loadKubeDocuments(text: string, filename: string): unknown[] {
  const docs: unknown[] = [];
  inexactRead = false;
  yaml.loadAll(text, (d) => docs.push(d), { schema: KUBE_LOAD_SCHEMA, filename });
  if (inexactRead) throw inexactIntegerIn(text, filename);
  return docs;
}

/** Characters of an integer's plain scalar, read back from where the parser stopped. */
const INT_CHAR = /[0-9a-zA-Z_+-]/;

/** The first inexact integer of a text that has one, found by reading it again with a listener: rare, so not paid for on every parse. */
function inexactIntegerIn(text: string, filename: string): yaml.YAMLException {
  let found: InexactInteger | undefined;
  yaml.loadAll(text, () => undefined, {
    schema: KUBE_LOAD_SCHEMA,
    filename,
    listener(event, state) {
      // The parser's state has the node's tag too; its types leave it out.
      if (found || event !== "close" || (state as yaml.State & { tag: string | null }).tag !== INT_TAG || typeof state.result !== "number") return;
      let end = state.position;
      while (end > 0 && /\s/.test(text[end - 1])) end--;
      let start = end;
      while (start > 0 && INT_CHAR.test(text[start - 1])) start--;
      const written = text.slice(start, end);
      const exact = goInt(written);
      if (exact === undefined || writesBackAs(state.result, exact)) return;
      const line = text.slice(0, start).split("\n").length - 1;
      const mark: yaml.Mark = { name: filename, buffer: text, position: start, line, column: start - (text.lastIndexOf("\n", start - 1) + 1), snippet: "" };
      found = new InexactInteger(inexactLiteralMessage(written, state.result), mark);
    },
  });
  // Not reached: the same parser, with the same types, met the integer a moment ago.
  return found ?? new InexactInteger("an integer cannot be kept exactly");
}

export function loadKubeDocument(text: string): unknown {
  return yaml.load(text, { schema: KUBE_LOAD_SCHEMA });
}

const DUMP_OPTIONS: yaml.DumpOptions = { schema: KUBE_DUMP_SCHEMA, lineWidth: -1, noRefs: true, quotingType: '"' };

/**
 * A multi-line string with a line that ends in blanks would go into a literal block, where
 * readers disagree about trailing blank lines: such a string is written double-quoted instead.
 */
const BLANK_AT_LINE_END = /[ \t](\n|$)/;

const needsQuotes = (s: string): boolean => s.includes("\n") && BLANK_AT_LINE_END.test(s);

/** Whether any string or key of the value needs double quotes: rare, so checked first (every manifest, every node). */
function anyNeedsQuotes(v: unknown): boolean {
  if (typeof v === "string") return needsQuotes(v);
  if (Array.isArray(v)) return v.some(anyNeedsQuotes);
  if (v && typeof v === "object") {
    const node = v as Record<string, unknown>;
    for (const k of Object.keys(node)) if (needsQuotes(k) || anyNeedsQuotes(node[k])) return true;
  }
  return false;
}

/** Replaces every string (and key) that needs double quotes with a placeholder, recording it. */
function markQuoted(v: unknown, marker: string, quoted: string[]): unknown {
  const mark = (s: string): string => (needsQuotes(s) ? `${marker}${quoted.push(s) - 1}Q` : s);
  if (typeof v === "string") return mark(v);
  if (Array.isArray(v)) return v.map((x) => markQuoted(x, marker, quoted));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [mark(k), markQuoted(x, marker, quoted)]));
  return v;
}

/** js-yaml's own test of whether a plain scalar reads as something else than a string. */
const DUMP_IMPLICIT = (KUBE_DUMP_SCHEMA as unknown as { compiledImplicit: { resolve(s: string): boolean }[] }).compiledImplicit;

/** Every string the dump schema's types resolve starts with one of these: most are settled by one test. */
const MAY_READ_AS_OTHER = /^(?:[-+.0-9_:~<eEyYnNoOtTfF]|$)/;

export const readsAsOther = (s: string): boolean => MAY_READ_AS_OTHER.test(s) && DUMP_IMPLICIT.some((t) => t.resolve(s));

export const KUBE_SCALAR_RULES: ScalarRules = { readsAsOther, alwaysQuoted: needsQuotes };

/** YAML that reads back exactly, under any YAML 1.1 or Go reader. */
export function dumpYaml(value: unknown): string {
  return emitYaml(value, KUBE_SCALAR_RULES) ?? dumpYamlWithJsYaml(value);
}

/** The same YAML written by js-yaml: for values that are not plain data, and as the reference in tests. */
export function dumpYamlWithJsYaml(value: unknown): string {
  if (!anyNeedsQuotes(value)) return yaml.dump(value, DUMP_OPTIONS);
  const quoted: string[] = [];
  // A marker that no string of the value contains, so no string can be mistaken for one.
  const json = JSON.stringify(value) ?? "";
  let marker = "GMQ";
  while (json.includes(marker)) marker += "x";
  const text = yaml.dump(markQuoted(value, marker, quoted), DUMP_OPTIONS);
  if (quoted.length === 0) return text;
  return text.replace(new RegExp(`${marker}(\\d+)Q`, "g"), (_, i) => yaml.dump(quoted[Number(i)], { ...DUMP_OPTIONS, forceQuotes: true }).trimEnd());
}

/** One object as YAML, with the template it came from in a comment. */
export function serializeManifest(object: unknown, source?: string): string {
  const text = dumpYaml(object);
  return source ? `# Source: ${source}\n${text}` : text;
}
