// js-yaml's dump, for the plain data manifests are made of, without its garbage. js-yaml builds
// each level's text and copies it into its parent's, so writing 10 MB of manifests allocated
// ~150 MB; this appends to one string in document order. It gives exactly js-yaml's bytes for the
// options kube-yaml writes with (block style, indent 2, no folding, double quotes, no anchors):
// users diff `out/` across versions, so a test compares the two on generated values. A value
// that is not plain data (undefined, a Date, a boxed number) is left to js-yaml: emitYaml
// returns undefined.

export interface ScalarRules {
  /** Whether the plain scalar would read as another type (null, a boolean, a number...). */
  readsAsOther(s: string): boolean;
  /** Strings written double-quoted whatever they hold. */
  alwaysQuoted(s: string): boolean;
}

interface Emitter extends ScalarRules {
  out: string;
}

/** Thrown through the recursion when the value is not plain data. */
const NOT_PLAIN = Symbol("not plain data");

export function emitYaml(value: unknown, rules: ScalarRules): string | undefined {
  const emitter: Emitter = { out: "", readsAsOther: rules.readsAsOther, alwaysQuoted: rules.alwaysQuoted };
  try {
    emitNode(emitter, value, 0, true, "");
  } catch (e) {
    if (e === NOT_PLAIN) return undefined;
    throw e;
  }
  const text = `${emitter.out}\n`;
  // The text is a rope of every piece appended; reading a character makes V8 flatten it now,
  // while the pieces are fresh, not when the file is written (3 times the memory held till then).
  text.charCodeAt(0);
  return text;
}

const toTag = Object.prototype.toString;
const NEWLINES: string[] = [];
const newline = (level: number): string => (NEWLINES[level] ??= `\n${"  ".repeat(level)}`);

/**
 * A node in block context, after an indicator (`key:`, `-`) or at the top. Written on the
 * indicator's line after `lead`, except a block collection that is not `compact`: that starts on
 * the next line.
 */
function emitNode(e: Emitter, v: unknown, level: number, compact: boolean, lead: string): void {
  switch (typeof v) {
    case "string":
      e.out += lead + scalar(e, v, level, false);
      return;
    case "number":
      e.out += lead + number(v);
      return;
    case "boolean":
      e.out += v ? `${lead}true` : `${lead}false`;
      return;
    case "object": {
      if (v === null) {
        e.out += `${lead}null`;
        return;
      }
      const tag = toTag.call(v);
      if (tag === "[object Array]") {
        const items = v as unknown[];
        if (items.length === 0) e.out += `${lead}[]`;
        else emitSequence(e, items, level, compact, lead);
        return;
      }
      if (tag === "[object Object]") {
        const keys = Object.keys(v);
        if (keys.length === 0) e.out += `${lead}{}`;
        else emitMapping(e, v as Record<string, unknown>, keys, level, compact, lead);
        return;
      }
    }
  }
  throw NOT_PLAIN;
}

function emitMapping(e: Emitter, map: Record<string, unknown>, keys: string[], level: number, compact: boolean, lead: string): void {
  for (let i = 0; i < keys.length; i++) {
    const v = map[keys[i]];
    // js-yaml drops such a pair, which changes how the rest is laid out: it writes those itself.
    if (v === undefined) throw NOT_PLAIN;
    e.out += !compact || i > 0 ? newline(level) : lead;
    const key = scalar(e, keys[i], level + 1, true);
    // A key longer than 1,024 characters must be an explicit one (`? key`), as YAML requires.
    const explicit = key.length > 1024 && !e.alwaysQuoted(keys[i]);
    e.out += explicit ? `? ${key}${newline(level)}:` : `${key}:`;
    emitNode(e, v, level + 1, explicit, " ");
  }
}

function emitSequence(e: Emitter, items: unknown[], level: number, compact: boolean, lead: string): void {
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (v === undefined) throw NOT_PLAIN;
    e.out += !compact || i > 0 ? `${newline(level)}-` : `${lead}-`;
    emitNode(e, v, level + 1, true, " ");
  }
}

const SCIENTIFIC_WITHOUT_DOT = /^[-+]?[0-9]+e/;

function number(n: number): string {
  if (n % 1 === 0 && !Object.is(n, -0)) return n.toString(10);
  if (Number.isNaN(n)) return ".nan";
  if (n === Infinity) return ".inf";
  if (n === -Infinity) return "-.inf";
  if (Object.is(n, -0)) return "-0.0";
  const s = n.toString(10);
  return SCIENTIFIC_WITHOUT_DOT.test(s) ? s.replace("e", ".e") : s;
}

// YAML 1.1 booleans and sexagesimal numbers: js-yaml quotes them (without escaping) before
// choosing a style.
const YAML11_BOOLEANS = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"]);
const SEXAGESIMAL = /^[-+]?[0-9_]+(?::[0-9_]+)+(?:\.[0-9_]*)?$/;

const enum Style {
  Plain,
  Double,
  Literal,
}

function scalar(e: Emitter, s: string, level: number, isKey: boolean): string {
  if (e.alwaysQuoted(s)) return `"${escape(s)}"`;
  if (s.length === 0) return '""';
  if (YAML11_BOOLEANS.has(s) || SEXAGESIMAL.test(s)) return `"${s}"`;
  switch (chooseStyle(e, s, isKey)) {
    case Style.Plain:
      return s;
    case Style.Double:
      return `"${escape(s)}"`;
    case Style.Literal:
      return literal(s, 2 * Math.max(1, level));
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LINE_FEED = 0x0a;
const COLON = 0x3a;
const SHARP = 0x23;
const BOM = 0xfeff;

function isPrintable(c: number): boolean {
  return (
    (c >= 0x20 && c <= 0x7e) ||
    (c >= 0xa1 && c <= 0xd7ff && c !== 0x2028 && c !== 0x2029) ||
    (c >= 0xe000 && c <= 0xfffd && c !== BOM) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

const isBlank = (c: number): boolean => c === SPACE || c === TAB;

/** YAML's c-indicator characters, which cannot start a plain scalar. */
const INDICATORS = new Set([..."-?:,[]{}#&*!|=>'\"%@`"].map((c) => c.charCodeAt(0)));

const plainSafeFirst = (c: number): boolean => isPrintable(c) && !isBlank(c) && !INDICATORS.has(c);
const plainSafeLast = (c: number): boolean => !isBlank(c) && c !== COLON;

/** ns-plain-char in block context: `#` only after a non-blank, `:` only before one. */
function plainSafe(c: number, prev: number): boolean {
  const nsOrBlank = isPrintable(c);
  const ns = nsOrBlank && !isBlank(c);
  return (nsOrBlank && c !== SHARP && !(prev === COLON && !ns)) || (isPrintable(prev) && !isBlank(prev) && c === SHARP) || (prev === COLON && ns);
}

/** Printable ASCII, no line break: nearly every string of a manifest. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Within printable ASCII, what plainSafe refuses after the first character. */
const BREAKS_PLAIN = /: | #/;

/** js-yaml's chooseScalarStyle with no line width and no forced quotes. */
function chooseStyle(e: Emitter, s: string, isKey: boolean): Style {
  // The loop below, answered by two regular expressions for printable ASCII: a loop run a
  // character at a time is slow before V8 has compiled it, which is most of a short run.
  if (PRINTABLE_ASCII.test(s)) {
    const plain = plainSafeFirst(s.charCodeAt(0)) && plainSafeLast(s.charCodeAt(s.length - 1)) && !BREAKS_PLAIN.test(s);
    return plain && !e.readsAsOther(s) ? Style.Plain : Style.Double;
  }
  let plain = plainSafeFirst(s.codePointAt(0) as number) && plainSafeLast(s.codePointAt(s.length - 1) as number);
  let lineBreak = false;
  let prev = -1;
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i) as number;
    // A key is written on one line, so a line break in it needs escaping.
    if (c === LINE_FEED && !isKey) lineBreak = true;
    else if (!isPrintable(c)) return Style.Double;
    plain &&= plainSafe(c, prev);
    prev = c;
    i += c >= 0x10000 ? 2 : 1;
  }
  if (lineBreak) return Style.Literal;
  return plain && !e.readsAsOther(s) ? Style.Plain : Style.Double;
}

const ESCAPES = new Map<number, string>([
  [0x00, "\\0"],
  [0x07, "\\a"],
  [0x08, "\\b"],
  [0x09, "\\t"],
  [0x0a, "\\n"],
  [0x0b, "\\v"],
  [0x0c, "\\f"],
  [0x0d, "\\r"],
  [0x1b, "\\e"],
  [0x22, '\\"'],
  [0x5c, "\\\\"],
  [0x85, "\\N"],
  [0xa0, "\\_"],
  [0x2028, "\\L"],
  [0x2029, "\\P"],
]);

/** Printable ASCII but `"` and `\`: written as it is inside double quotes. */
const NOTHING_TO_ESCAPE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function escape(s: string): string {
  if (NOTHING_TO_ESCAPE.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i) as number;
    const width = c >= 0x10000 ? 2 : 1;
    const named = ESCAPES.get(c);
    if (named === undefined && isPrintable(c)) out += s.slice(i, i + width);
    else out += named ?? hex(c);
    i += width;
  }
  return out;
}

function hex(c: number): string {
  const digits = c.toString(16).toUpperCase();
  const [mark, width] = c <= 0xff ? ["x", 2] : c <= 0xffff ? ["u", 4] : ["U", 8];
  return `\\${mark}${digits.padStart(width, "0")}`;
}

/** A literal block (`|`): each line indented, except empty ones; the last line break dropped. */
function literal(s: string, indent: number): string {
  const indicator = /^\n* /.test(s) ? "2" : "";
  const clip = s.endsWith("\n");
  const keep = clip && (s[s.length - 2] === "\n" || s === "\n");
  let out = `|${indicator}${keep ? "+" : clip ? "" : "-"}`;
  const pad = " ".repeat(indent);
  for (let start = 0; start < s.length; ) {
    const end = s.indexOf("\n", start);
    const line = end === -1 ? s.slice(start) : s.slice(start, end);
    out += line === "" ? "\n" : `\n${pad}${line}`;
    start = end === -1 ? s.length : end + 1;
  }
  return out;
}
