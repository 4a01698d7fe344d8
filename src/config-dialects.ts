// The formats of the config files the shipped set renders, and how a value is written into each
// so that it stays data: it can never add a line, a section or an option, and no interpolation
// of the reading program (oslo.config's `$`, ConfigParser's `%`, uwsgi's `%`/`$()`/`@()`) can
// change it. A value a format cannot hold exactly is refused, never altered.
//
// A template marks config text with `{{#config "oslo"}} … {{/config}}`; every value printed
// inside the block is written by that block's dialect (see render.ts: fillConfigText).

/** A piece of config text as the template wrote it: its own text, or the value of token `i`. */
export type Piece = string | { token: number };

/** Why the value of a token cannot be written where it stands. */
export interface ValueFault {
  token: number;
  reason: string;
}

export interface Dialect {
  /** What the format is, for messages: "an oslo.config file". */
  what: string;
  /** `ini` formats are `key = value` lines; `json` is a JSON document. */
  kind: "ini" | "json";
  /** For ini formats: the characters that end an option's name (the first one wins). */
  delimiters?: string;
  /** Why a value (as text) cannot be written in this format at all, or undefined. */
  refuse?(value: string): string | undefined;
  /** The value as the file must hold it so that the reader gets `value` back (ini: inside a line). */
  escape?(value: string): string;
  /**
   * The whole option value, written: `raw` as the reader must get it back, `escaped` as the
   * pieces were escaped. Undefined with a reason where it cannot be written.
   */
  finish?(raw: string, escaped: string): { text: string } | { reason: string };
}

// Python's str.strip() whitespace: ASCII blanks, the separators \x1c-\x1f, \x85 and Unicode spaces.
const PY_SPACE = /[\s\x1c-\x1f\x85]/u;
const LINE_BREAK = /[\n\r]/;
// Control characters other than tab: no config reader is promised to keep them.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What every line format refuses: text that cannot be one line of UTF-8. */
function refuseInLine(value: string): string | undefined {
  if (LINE_BREAK.test(value)) return "holds a line break";
  if (CONTROL.test(value)) return "holds a control character";
  if (LONE_SURROGATE.test(value)) return "is not Unicode text (a lone surrogate)";
  return undefined;
}

const endsInSpace = (s: string): boolean => s !== "" && (PY_SPACE.test(s[0]) || PY_SPACE.test(s[s.length - 1]));

/** Only what needs no escaping anywhere: for formats whose quoting rules are not worth trusting. */
const PLAIN = /^[A-Za-z0-9._:/,+@-]*$/;

export const DIALECTS = {
  /**
   * oslo.config (keystone.conf, glance-api.conf, glance-swift.conf). Its parser takes the text
   * after the first `=` or `:`, strips blanks and then one pair of matching quotes around it, and
   * knows no inline comments; a `$` starts a substitution, `$$` is a `$`.
   */
  oslo: {
    what: "an oslo.config file",
    kind: "ini",
    delimiters: "=:",
    refuse: refuseInLine,
    escape: (v) => v.replace(/\$/g, "$$$$"),
    finish(raw, escaped) {
      const quoted = raw.length > 0 && (raw[0] === '"' || raw[0] === "'");
      // Quotes keep blanks at either end, and a value that starts with a quote its own.
      return { text: endsInSpace(raw) || quoted ? `"${escaped}"` : escaped };
    },
  },
  /**
   * Python's ConfigParser with interpolation, as paste.deploy reads its files and swift reads
   * swift.conf: it strips blanks with no way to quote them, and `%` starts an interpolation,
   * `%%` is a `%`.
   */
  paste: {
    what: "a swift/paste.deploy config file (Python ConfigParser)",
    kind: "ini",
    delimiters: "=:",
    refuse: refuseInLine,
    escape: (v) => v.replace(/%/g, "%%"),
    finish: (raw, escaped) => (endsInSpace(raw) ? { reason: "starts or ends with a blank, which ConfigParser strips" } : { text: escaped }),
  },
  /**
   * swift's server and daemon files (proxy/account/container/object-server.conf): swift reads
   * them with ConfigParser and its own NicerInterpolation, through paste.deploy for the servers
   * (swift.common.wsgi) and readconf for the replicators, updaters and auditors. It interpolates a
   * value only if the value holds `%(`, so `%` is doubled only then; otherwise it is read as it is.
   */
  swift: {
    what: "a swift server or daemon config file (ConfigParser with swift's NicerInterpolation)",
    kind: "ini",
    delimiters: "=:",
    refuse: refuseInLine,
    escape: (v) => v.replace(/%/g, "%%"),
    finish(raw, escaped) {
      if (endsInSpace(raw)) return { reason: "starts or ends with a blank, which ConfigParser strips" };
      // Read as written when the text holds no `%(`; escaped text always does when the raw one does.
      return { text: escaped.includes("%(") ? escaped : raw };
    },
  },
  /**
   * glance_store's swift reference file (glance-swift.conf): Python's ConfigParser with `%`
   * interpolation, then one pair of quotes around a value taken off (a value that starts with a
   * quote must end with it). Quotes keep blanks at either end.
   */
  "glance-swift": {
    what: "glance_store's swift reference file",
    kind: "ini",
    delimiters: "=:",
    refuse: refuseInLine,
    escape: (v) => v.replace(/%/g, "%%"),
    finish(raw, escaped) {
      const quoted = raw.length > 0 && (raw[0] === '"' || raw[0] === "'");
      return { text: endsInSpace(raw) || quoted ? `"${escaped}"` : escaped };
    },
  },
  /** uwsgi's ini: `%…`, `$(…)`, `@(…)` are magic; only plain words, numbers, paths and addresses pass. */
  uwsgi: {
    what: "a uwsgi ini file",
    kind: "ini",
    delimiters: "=",
    refuse: (v) => (PLAIN.test(v) ? undefined : "holds a character other than letters, digits and ._:/,+@- (uwsgi reads %, $, quotes and blanks itself)"),
    escape: (v) => v,
    finish: (_raw, escaped) => ({ text: escaped }),
  },
  /** rabbitmq.conf (cuttlefish's sysctl format): no passwords here (they go in the definitions file). */
  rabbitmq: {
    what: "a rabbitmq.conf file",
    kind: "ini",
    delimiters: "=",
    refuse: (v) => (PLAIN.test(v) ? undefined : "holds a character other than letters, digits and ._:/,+@- (cuttlefish reads # and quotes itself)"),
    escape: (v) => v,
    finish: (_raw, escaped) => ({ text: escaped }),
  },
  /** JSON (RabbitMQ's definitions file): a value inside a string literal is escaped, elsewhere it is a JSON value. */
  json: {
    what: "a JSON file",
    kind: "json",
    refuse: (v) => (LONE_SURROGATE.test(v) ? "is not Unicode text (a lone surrogate)" : undefined),
  },
} satisfies Record<string, Dialect>;

export type DialectName = keyof typeof DIALECTS;
export const DIALECT_NAMES = Object.keys(DIALECTS) as DialectName[];
export const isDialectName = (s: unknown): s is DialectName => typeof s === "string" && Object.hasOwn(DIALECTS, s);

/** A value as text in a config file: strings, numbers and booleans only. */
function asText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

/**
 * Writes config text: the template's own text as it is, each value by the dialect's rules.
 * Returns the text, and every value that could not be written (the text is then not to be used).
 */
export function writeConfigText(name: DialectName, pieces: Piece[], valueOf: (token: number) => unknown): { text: string; faults: ValueFault[] } {
  const dialect: Dialect = DIALECTS[name];
  return dialect.kind === "json" ? writeJson(dialect, pieces, valueOf) : writeIni(dialect, pieces, valueOf);
}

/** The pieces cut at line breaks in the template's own text. */
function linesOf(pieces: Piece[]): Piece[][] {
  const lines: Piece[][] = [[]];
  for (const p of pieces) {
    if (typeof p !== "string") {
      lines[lines.length - 1].push(p);
      continue;
    }
    p.split("\n").forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part !== "") lines[lines.length - 1].push(part);
    });
  }
  return lines;
}

function writeIni(dialect: Dialect, pieces: Piece[], valueOf: (token: number) => unknown): { text: string; faults: ValueFault[] } {
  const faults: ValueFault[] = [];
  const out: string[] = [];
  for (const line of linesOf(pieces)) {
    const tokens = line.filter((p): p is { token: number } => typeof p !== "string");
    if (tokens.length === 0) {
      out.push(line.join(""));
      continue;
    }
    const misplaced = (reason: string): void => {
      for (const t of tokens) faults.push({ token: t.token, reason });
    };
    const head = typeof line[0] === "string" ? line[0] : "";
    if (head === "") {
      misplaced(`stands where an option's name goes; a value may only follow "${dialect.delimiters![0]}"`);
      continue;
    }
    if (/^\s/.test(head)) {
      misplaced("stands in an indented line, which continues the option before it; write it as `name = value`");
      continue;
    }
    if (head[0] === "[") {
      misplaced("stands in a section header; a value may only follow an option's name");
      continue;
    }
    if (head[0] === "#" || head[0] === ";") {
      misplaced("stands in a comment, where it does nothing; remove it");
      continue;
    }
    const at = Math.min(...[...dialect.delimiters!].map((d) => head.indexOf(d)).filter((i) => i >= 0));
    if (!Number.isFinite(at)) {
      misplaced(`stands in an option's name; a value may only follow "${dialect.delimiters![0]}"`);
      continue;
    }
    // The option's value: the pieces after the delimiter, without the template's own blanks around it.
    const name = head.slice(0, at + 1);
    const rest: Piece[] = [head.slice(at + 1), ...line.slice(1)];
    const lead = /^[ \t]*/.exec(rest[0] as string)![0];
    rest[0] = (rest[0] as string).slice(lead.length);
    const last = rest.length - 1;
    if (typeof rest[last] === "string") rest[last] = (rest[last] as string).replace(/[ \t]+$/, "");
    let raw = "";
    let escaped = "";
    let bad = false;
    for (const p of rest) {
      if (typeof p === "string") {
        raw += p;
        escaped += p;
        continue;
      }
      const text = asText(valueOf(p.token));
      const reason = text === undefined ? "is not a text, number or boolean" : dialect.refuse?.(text);
      if (reason !== undefined) {
        faults.push({ token: p.token, reason: `${reason}, which ${dialect.what} cannot hold` });
        bad = true;
        continue;
      }
      raw += text;
      escaped += dialect.escape!(text!);
    }
    if (bad) continue;
    const finished = dialect.finish!(raw, escaped);
    if ("reason" in finished) {
      // The value at the end that is at fault; both when the value is one token.
      const ends = [rest[0], rest[last]].filter((p): p is { token: number } => typeof p !== "string");
      for (const t of new Set(ends.length ? ends : tokens)) faults.push({ token: t.token, reason: `${finished.reason}: ${dialect.what} cannot hold it here` });
      continue;
    }
    out.push(`${name}${lead || " "}${finished.text}`);
  }
  return { text: out.join("\n"), faults };
}

/**
 * JSON's escapes for the characters that JSON leaves raw but YAML does not read as written (DEL, C1
 * controls, U+2028/U+2029 line breaks): the same JSON, and also a YAML file's text (the registry's
 * config.yml is JSON read by a YAML parser).
 */
const yamlSafe = (s: string): string => s.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

function writeJson(dialect: Dialect, pieces: Piece[], valueOf: (token: number) => unknown): { text: string; faults: ValueFault[] } {
  const faults: ValueFault[] = [];
  let text = "";
  let inString = false;
  let escapeNext = false;
  for (const p of pieces) {
    if (typeof p === "string") {
      for (const c of p) {
        if (escapeNext) escapeNext = false;
        else if (inString && c === "\\") escapeNext = true;
        else if (c === '"') inString = !inString;
      }
      text += p;
      continue;
    }
    const v = valueOf(p.token);
    const asString = inString ? asText(v) : typeof v === "string" ? v : undefined;
    const reason = inString && asString === undefined ? "is not a text, number or boolean" : asString !== undefined ? dialect.refuse?.(asString) : v === undefined ? "has no value" : undefined;
    if (reason !== undefined) {
      faults.push({ token: p.token, reason: `${reason}, which ${dialect.what} cannot hold` });
      continue;
    }
    text += yamlSafe(inString ? JSON.stringify(asString).slice(1, -1) : JSON.stringify(v));
  }
  if (faults.length === 0) {
    try {
      JSON.parse(text);
    } catch {
      const first = pieces.find((p): p is { token: number } => typeof p !== "string");
      if (first) faults.push({ token: first.token, reason: `stands in text that is not JSON once written; check the template's JSON around it` });
    }
  }
  return { text, faults };
}
