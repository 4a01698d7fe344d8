// The one masking function every printer goes through (text, JSON, diff, plan, errors, --watch):
// whatever is printed, no secret value gets through, in any form it can take on the way out.
//
// A secret can reach a printed line raw, inside a YAML or JSON string (escaped), inside JSON of
// YAML (escaped twice: a diff's patch under --output json), as the lines of a YAML block scalar
// (each line indented, in a diff each prefixed by `+`, `-` or a space), or base64-encoded (a
// Secret's `data`, alone or inside a longer base64 text). Each secret is matched character by
// character, each character in any of the ways those writers can spell it, so that a mix of
// spellings is caught too; its base64 forms are matched at each of the three byte alignments.

/** Shorter values are too likely to stand in unrelated text to be masked. */
export const MIN_MASKED_LENGTH = 4;

export const MASK = "[secret]";

/** Masks every secret of `values` (those of at least {@link MIN_MASKED_LENGTH} characters) in a text. */
export function maskSecrets(text: string, values: Iterable<string>): string {
  const pattern = maskPattern(values);
  return pattern ? text.replace(pattern, MASK) : text;
}

/** A masking function for a set that grows while it is used (the CLI learns the secrets as it reads them). */
export function secretMasker(values: Set<string>): (text: string) => string {
  let known = -1;
  let pattern: RegExp | undefined;
  return (text) => {
    if (values.size !== known) {
      known = values.size;
      pattern = maskPattern(values);
    }
    return pattern ? text.replace(pattern, MASK) : text;
  };
}

const patterns = new Map<string, string>();

function maskPattern(values: Iterable<string>): RegExp | undefined {
  const sources = [...new Set(values)]
    .filter((v) => typeof v === "string" && [...v].length >= MIN_MASKED_LENGTH)
    // A secret that holds another is masked whole, not around the shorter one.
    .sort((a, b) => b.length - a.length)
    .flatMap((v) => {
      let source = patterns.get(v);
      if (source === undefined) patterns.set(v, (source = [spelled(v), ...base64Forms(v).map(literal)].join("|")));
      return [source];
    });
  return sources.length ? new RegExp(sources.join("|"), "g") : undefined;
}

const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** `\xHH`, `\uHHHH` or `\UHHHHHHHH`, with lower and with upper case hex digits. */
const hexEscapes = (mark: string, c: number, width: number): string[] => {
  const digits = c.toString(16).padStart(width, "0");
  return [`\\${mark}${digits}`, `\\${mark}${digits.toUpperCase()}`];
};

// The named escapes of YAML's and JSON's double-quoted strings.
const NAMED = new Map<number, string>([
  [0x00, "0"],
  [0x07, "a"],
  [0x08, "b"],
  [0x09, "t"],
  [0x0a, "n"],
  [0x0b, "v"],
  [0x0c, "f"],
  [0x0d, "r"],
  [0x1b, "e"],
  [0x20, " "],
  [0x22, '"'],
  [0x2f, "/"],
  [0x5c, "\\"],
  [0x85, "N"],
  [0xa0, "_"],
  [0x2028, "L"],
  [0x2029, "P"],
]);

/**
 * A character as a pattern of its spellings: as it is, escaped once (in a YAML or JSON string),
 * and escaped twice (that escape inside a JSON string).
 */
function spellings(c: number): string {
  const ch = String.fromCodePoint(c);
  const once: string[] = [];
  const named = NAMED.get(c);
  if (named !== undefined) once.push(`\\${named}`);
  if (c <= 0xff) once.push(...hexEscapes("x", c, 2));
  if (c <= 0xffff) once.push(...hexEscapes("u", c, 4));
  else {
    const [high, low] = [0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff)];
    for (const h of hexEscapes("u", high, 4)) for (const l of hexEscapes("u", low, 4)) once.push(h + l);
  }
  once.push(...hexEscapes("U", c, 8));
  if (c === 0x27) once.push("''"); // YAML single quotes
  const twice = once.map((e) => JSON.stringify(e).slice(1, -1));
  const forms = [...new Set([ch, ...once, ...twice])].map(literal);
  // A line break of a block scalar: the next line indented, and in a diff prefixed by + - or a space;
  // in a single-quoted or plain scalar, a blank line (a single break would read as a space).
  if (c === 0x0a) forms.push("(?:(?:\\r?\\n|\\\\r\\\\n|\\\\n|\\\\\\\\n)[-+ ]?[ \\t]*)+");
  return `(?:${forms.join("|")})`;
}

/** The pattern of a secret spelled in any mix of its characters' spellings. */
function spelled(v: string): string {
  return [...v].map((ch) => spellings(ch.codePointAt(0)!)).join("");
}

/**
 * The base64 text a value's bytes always encode to, at each of the three alignments it can have
 * inside longer data (the characters that depend on neighbouring bytes are left off), in the
 * standard and the URL alphabets; of the value as it is and as a JSON or YAML string holds it.
 */
function base64Forms(v: string): string[] {
  const texts = new Set([v, JSON.stringify(v).slice(1, -1), v.replace(/'/g, "''")]);
  const forms = new Set<string>();
  for (const text of texts) {
    const bytes = Buffer.from(text, "utf8");
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
      // Characters wholly inside the value's bits: from ceil(8·offset/6) to floor(8·(offset+n)/6).
      const from = Math.ceil((8 * offset) / 6);
      const to = Math.floor((8 * (offset + bytes.length)) / 6);
      const inner = encoded.slice(from, to);
      if (inner.length < MIN_MASKED_LENGTH) continue;
      forms.add(inner);
      forms.add(inner.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms];
}
