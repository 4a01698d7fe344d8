// Error tracing: where in a template (or partial) a piece of rendered output was written. Only when
// something is wrong, the template is compiled again with a mark before every piece of text and
// after each line break; the marks are taken out, and remembered by offset.
import { compiler, compileOptions, type CompiledUnit, instantiate, loadSet, rewriteMustaches, setSource } from "./template-runtime";
import { type Emitted, type SourcePlace, TOKEN_PATTERN, type TracedText } from "./value-tokens";
import type { ParamValues, TemplateFile } from "./types";

type Program = hbs.AST.Program;

// Marks put into the traced render's text, one before each piece of template text and after each
// of its line breaks, and taken out again; NUL never stands in a template's YAML.
const MARK = /\u0000(\d+)\u0001/g;
const markFor = (id: number): string => `\u0000${id}\u0001`;

export interface Tracer {
  trace(name: string, values: ParamValues, secretNames: Set<string>): TracedText;
}

/** Templates compiled again, one by one as asked for, with a mark at the start of every piece of text and line. */
export function buildTracer(files: TemplateFile[]): Tracer {
  const places: SourcePlace[] = [];
  const unitOf = (file: TemplateFile): CompiledUnit => {
    const ast = compiler().parse(file.text);
    const sites = rewriteMustaches(ast, file).map(({ line, column, expression }) => ({ line, column, expression }));
    markContent(ast, file, places);
    return { file, spec: compiler().precompile(ast, compileOptions()) as unknown as string, sites };
  };
  const partialFiles = files.filter((f) => f.isPartial);
  let partials: CompiledUnit[] | undefined;
  return {
    trace(name, values, secretNames) {
      partials ??= partialFiles.map(unitOf);
      const file = files.find((f) => f.name === name)!;
      const [template] = instantiate(loadSet(setSource([...partials, unitOf(file)]), [...partialFiles, file])!).templates;
      const { text: marked, emitted } = template.render(values, secretNames);
      // Take the marks out, remembering where each stood in the text that remains.
      const marks: { offset: number; place: SourcePlace }[] = [];
      let text = "";
      let last = 0;
      for (const m of marked.matchAll(MARK)) {
        text += marked.slice(last, m.index);
        marks.push({ offset: text.length, place: places[Number(m[1])] });
        last = m.index! + m[0].length;
      }
      text += marked.slice(last);
      // A template with a NUL of its own could be mistaken for marks: no places rather than wrong ones.
      const trusted = !files.some((f) => f.text.includes("\u0000"));
      return { text, emitted, placeAt: (offset) => (trusted ? placeAt(text, emitted, marks, offset) : undefined) };
    },
  };
}

/** Adds the marks to every piece of text (ContentStatement) of a parsed template. */
function markContent(ast: Program, file: TemplateFile, places: SourcePlace[]): void {
  const visit = (prog: Program | undefined): void => {
    for (const stmt of prog?.body ?? []) {
      if (stmt.type === "BlockStatement") {
        visit((stmt as hbs.AST.BlockStatement).program);
        visit((stmt as hbs.AST.BlockStatement).inverse);
      }
      if (stmt.type !== "ContentStatement") continue;
      const content = stmt as hbs.AST.ContentStatement;
      if (content.value === "") continue;
      // Whitespace control may have cut blanks off either end of the text as written.
      const original = (content as unknown as { original: string }).original; // mistyped in @types
      let cut = 0;
      while (cut < original.length && !original.startsWith(content.value, cut)) cut++;
      const before = original.slice(0, cut);
      const breaks = before.split("\n").length - 1;
      let line = content.loc.start.line + breaks;
      const column = breaks ? before.length - before.lastIndexOf("\n") - 1 : content.loc.start.column + cut;
      const mark = (place: SourcePlace): string => markFor(places.push(place) - 1);
      // Not after a final line break: Handlebars indents a partial's last line unless it is empty.
      content.value = mark({ file: file.path, line, column: column + 1 }) + content.value.replace(/\n(?=[\s\S])/g, () => `\n${mark({ file: file.path, line: ++line, column: 1 })}`);
    }
  };
  visit(ast);
}

/**
 * The template place of an offset in traced text: exact in template text (the last mark before
 * it started that text), the print site inside a value's token, and in a partial's indentation
 * (which Handlebars adds, so no template wrote it) the line the indentation belongs to.
 */
function placeAt(text: string, emitted: Emitted[], marks: { offset: number; place: SourcePlace }[], offset: number): SourcePlace | undefined {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const lineEnd = text.indexOf("\n", offset) === -1 ? text.length : text.indexOf("\n", offset);
  for (const m of text.slice(lineStart, lineEnd).matchAll(TOKEN_PATTERN)) {
    const start = lineStart + m.index!;
    if (offset >= start && offset < start + m[0].length) {
      const site = emitted[Number(m[1])]?.site;
      return site && { file: site.template, line: site.line, column: site.column };
    }
  }
  let lo = 0;
  let hi = marks.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid].offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const mark = marks[found];
  if (mark && mark.offset >= lineStart) return { ...mark.place, column: mark.place.column! + offset - mark.offset };
  const next = marks[found + 1];
  if (next && next.offset <= lineEnd) return { file: next.place.file, line: next.place.line };
  return mark && { file: mark.place.file, line: mark.place.line };
}
