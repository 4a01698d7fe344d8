// A Handlebars syntax error in words, at the place a reader can fix it. Handlebars' parser says
// what its grammar expected as a list of token names (`expected CLOSE_RAW_BLOCK, CLOSE, ...`) and
// finds an unclosed `{{#if}}` only at the end of the file. Here the template is read again with
// Handlebars' own lexer (so comments, raw blocks and `\{{` are what Handlebars takes them for):
// the blocks are matched first, each problem placed at the tag that opened the block, and only
// when they match is the parser's complaint translated, token by token, into what to write.
import type { Problem } from "./errors";

interface Token {
  name: string;
  text: string;
  line: number;
  /** 1-based. */
  column: number;
}

interface Lexer {
  setInput(text: string, yy: object): void;
  lex(): number | string;
  yytext: string;
  yylloc: { first_line: number; first_column: number };
  _input: string;
}

/** What each of the parser's tokens is, as the user would write it. */
const TOKEN_WORDS: Record<string, string> = {
  CLOSE: "}}",
  CLOSE_UNESCAPED: "}}}",
  CLOSE_RAW_BLOCK: "}}}}",
  OPEN_SEXPR: "(",
  CLOSE_SEXPR: ")",
  ID: "a name",
  STRING: "a string",
  NUMBER: "a number",
  BOOLEAN: "true or false",
  UNDEFINED: "undefined",
  NULL: "null",
  DATA: "an @name",
  SEP: ". or /",
  EQUALS: "=",
  OPEN_BLOCK_PARAMS: "as |name|",
  CLOSE_BLOCK_PARAMS: "|",
  OPEN_ENDBLOCK: "a closing {{/name}}",
  INVERSE: "{{else}}",
  OPEN_INVERSE_CHAIN: "{{else if ...}}",
  EOF: "the end of the file",
  INVALID: "a character that cannot stand here",
  CONTENT: "text",
  OPEN: "{{",
  OPEN_BLOCK: "{{#",
};
/** Tokens that stand for a value: listed together as one thing the user may write. */
const VALUE_TOKENS = new Set(["ID", "STRING", "NUMBER", "BOOLEAN", "UNDEFINED", "NULL", "DATA"]);
const OPENS_TAG = new Set(["OPEN", "OPEN_UNESCAPED", "OPEN_BLOCK", "OPEN_INVERSE", "OPEN_INVERSE_CHAIN", "OPEN_ENDBLOCK", "OPEN_PARTIAL", "OPEN_PARTIAL_BLOCK", "OPEN_RAW_BLOCK"]);
const CLOSES_TAG = new Set(["CLOSE", "CLOSE_UNESCAPED", "CLOSE_RAW_BLOCK"]);

/** The template's tokens, as far as Handlebars' lexer reads; `stuck` is where it could read no further. */
function tokenize(text: string): { tokens: Token[]; stuck?: { line: number; column: number } } {
  const parser = (require("handlebars") as { Parser: { lexer: Lexer; terminals_: Record<number, string> } }).Parser;
  const lexer: Lexer = Object.create(parser.lexer);
  lexer.setInput(text, {});
  const tokens: Token[] = [];
  try {
    for (;;) {
      const t = lexer.lex();
      const name = typeof t === "number" ? parser.terminals_[t] : t;
      if (name === "EOF" || name === undefined) return { tokens };
      tokens.push({ name, text: lexer.yytext, line: lexer.yylloc.first_line, column: lexer.yylloc.first_column + 1 });
    }
  } catch {
    const before = text.slice(0, text.length - lexer._input.length);
    return { tokens, stuck: { line: before.split("\n").length, column: before.length - before.lastIndexOf("\n") } };
  }
}

/** The name after an opening token: `if`, `each`, a path `a.b`, or a partial's name. */
function nameAfter(tokens: Token[], i: number): string {
  let k = i + 1;
  if (tokens[k]?.name !== "ID") return "";
  let name = tokens[k].text;
  while (tokens[k + 1]?.name === "SEP" && tokens[k + 2]?.name === "ID") {
    name += tokens[k + 1].text + tokens[k + 2].text;
    k += 2;
  }
  return name;
}

interface OpenBlock {
  name: string;
  /** How it opens: `{{#`, `{{^`, `{{#>`, `{{{{`. */
  opener: string;
  line: number;
  column: number;
  /** Where a plain {{else}} was met, if one was. */
  elseAt?: Token;
}

const opened = (b: OpenBlock): string => (b.opener.includes("{{{{") ? `{{{{${b.name}}}}}` : `${b.opener.replace(/~/g, "")}${b.opener.includes(">") ? " " : ""}${b.name}}}`);
const closer = (b: OpenBlock): string => (b.opener.includes("{{{{") ? `{{{{/${b.name}}}}}` : `{{/${b.name}}}`);

/** Problems with the blocks: unclosed, closed by another name, stray closes and elses. */
function blockProblems(file: string, tokens: Token[]): Problem[] {
  const problems: Problem[] = [];
  const stack: OpenBlock[] = [];
  const at = (t: { line: number; column: number }, message: string): Problem => ({ file, line: t.line, column: t.column, message: `syntax error: ${message}` });
  tokens.forEach((t, i) => {
    switch (t.name) {
      case "OPEN_BLOCK":
      case "OPEN_INVERSE":
      case "OPEN_PARTIAL_BLOCK":
      case "OPEN_RAW_BLOCK":
        stack.push({ name: nameAfter(tokens, i), opener: t.text, line: t.line, column: t.column });
        break;
      case "END_RAW_BLOCK":
        stack.pop();
        break;
      case "INVERSE":
      case "OPEN_INVERSE_CHAIN": {
        const top = stack[stack.length - 1];
        const word = t.name === "INVERSE" ? t.text : `${t.text} ${nameAfter(tokens, i)} ...}}`;
        if (!top) problems.push(at(t, `${word} outside any block: it belongs between a {{#if}} or {{#each}} and its {{/if}} or {{/each}}`));
        else if (top.elseAt) problems.push(at(t, `${word} after the {{else}} at ${top.elseAt.line}:${top.elseAt.column} of the ${opened(top)} at line ${top.line}: a block has at most one plain {{else}}, and it comes last`));
        else if (t.name === "INVERSE") top.elseAt = t;
        break;
      }
      case "OPEN_ENDBLOCK": {
        const name = nameAfter(tokens, i);
        const depth = stack.map((b) => b.name).lastIndexOf(name);
        if (depth < 0) {
          // A close of another name: the block it was meant for is the one open.
          const top = stack.pop();
          problems.push(top ? at(top, `${opened(top)} is closed by {{/${name}}} at line ${t.line}: expected ${closer(top)}`) : at(t, `{{/${name}}} closes no open block`));
          break;
        }
        // Every block opened inside the one closed here lacks its own close.
        for (const b of stack.splice(depth + 1).reverse()) problems.push(at(b, `${opened(b)} is never closed: expected ${closer(b)} before the {{/${name}}} at line ${t.line}`));
        stack.pop();
        break;
      }
    }
  });
  for (const b of stack.reverse()) problems.push(at(b, `${opened(b)} is never closed: expected ${closer(b)} before the end of the file`));
  return problems;
}

/** "a name, a string or (" from the parser's expected tokens. */
function expectedWords(expected: string[]): string {
  const words: string[] = [];
  const values = expected.filter((e) => VALUE_TOKENS.has(e));
  if (values.length === 1) words.push(TOKEN_WORDS[values[0]]);
  else if (values.length) words.push("a value (a name, string, number or @name)");
  for (const e of expected) if (!VALUE_TOKENS.has(e) && !["CLOSE_RAW_BLOCK", "OPEN_BLOCK_PARAMS", "SEP"].includes(e)) words.push(TOKEN_WORDS[e] ?? e);
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/**
 * A problem in words for a template Handlebars could not parse. `place` is where the parser
 * stopped, as its message says; `expecting` its message's `Expecting ..., got ...` line.
 */
export function describeSyntaxError(file: string, text: string, place: { line?: number; column?: number }, expecting?: string, message?: string): Problem[] {
  const { tokens, stuck } = tokenize(text);
  const blocks = blockProblems(file, tokens);
  if (blocks.length) return blocks;
  const problem = (where: { line?: number; column?: number }, what: string): Problem[] => [{ file, line: where.line, column: where.column, message: `syntax error: ${what}` }];
  // The tag open where the parser stopped: `{{` without its `}}`.
  const before = (t: Token): boolean => place.line === undefined || t.line < place.line || (t.line === place.line && t.column < (place.column ?? Infinity));
  let openTag: Token | undefined;
  for (const t of tokens) {
    if (!before(t)) break;
    if (OPENS_TAG.has(t.name)) openTag = t;
    else if (CLOSES_TAG.has(t.name)) openTag = undefined;
  }
  if (stuck) {
    const rest = text.split("\n")[stuck.line - 1]?.slice(stuck.column - 1) ?? "";
    if (/^\{\{~?!--/.test(rest)) return problem(stuck, "the comment {{!-- is never closed: expected --}}");
    if (/^\{\{~?!/.test(rest)) return problem(stuck, "the comment {{! is never closed: expected }}");
    return problem(stuck, `Handlebars cannot read the text from here: ${JSON.stringify(rest.slice(0, 20))}`);
  }
  const m = expecting ? /^Expecting (.*), got '(\w+)'$/.exec(expecting) : null;
  if (!m) return problem(place, message ?? "Handlebars cannot read the template");
  const expected = [...m[1].matchAll(/'(\w+)'/g)].map((x) => x[1]);
  const got = m[2];
  const charAt = place.line !== undefined && place.column !== undefined ? (text.split("\n")[place.line - 1] ?? "")[place.column - 1] : undefined;
  const tag = openTag ? `the tag ${openTag.text.replace(/~/g, "")}${nameAfter(tokens, tokens.indexOf(openTag))}` : "the tag";
  if (got === "INVALID" && (charAt === '"' || charAt === "'")) return problem(place, `a string is never closed: expected a closing ${charAt} before }}`);
  if (openTag && (got === "EOF" || got === "INVALID") && expected.some((e) => CLOSES_TAG.has(e))) {
    const close = openTag.name === "OPEN_UNESCAPED" ? "}}}" : "}}";
    return problem(openTag, `${tag} is never closed: expected ${close}${got === "INVALID" && charAt ? `, found ${JSON.stringify(charAt)}` : ""}`);
  }
  if (got === "CLOSE" && expected.includes("CLOSE_UNESCAPED")) return problem(openTag ?? place, `${tag} opens with {{{ and closes with }}: expected }}}`);
  if (got === "CLOSE" && expected.includes("CLOSE_SEXPR")) return problem(place, "a ( is never closed: expected ) before }}");
  if (got === "CLOSE" && expected.every((e) => VALUE_TOKENS.has(e) || e === "OPEN_SEXPR")) {
    if (openTag && tokens[tokens.indexOf(openTag) + 1]?.name === "CLOSE") return problem(openTag, `${tag}}} is empty: expected a name inside it`);
    return problem(place, `expected ${expectedWords(expected)} before }}`);
  }
  return problem(place, `expected ${expectedWords(expected)}, found ${TOKEN_WORDS[got] ?? got}`);
}
