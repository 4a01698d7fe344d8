// Parses every template before any is rendered, checks what each one may use, and compiles them
// in an isolated Handlebars environment.
//
// Values are data, never structure: every `{{expr}}` is rewritten to print an opaque token
// instead of its value. The render stage parses the YAML with only tokens in it and puts each
// value into the parsed tree afterwards, so no value ever passes through the YAML parser.
import HandlebarsRuntime from "handlebars/runtime";
import { closestName } from "../closest-name";
import { DIALECT_NAMES, type DialectName, isDialectName } from "../config-dialects";
import { cacheKey, CompileCache, evaluateModule, NO_CACHE } from "../compile-cache";
import { GenError, Problem } from "../errors";
import { Phase, phaseByName, PHASES } from "../phases";
import { describeSyntaxError } from "../template-syntax";
import { secretParamNames } from "./validate-params";
import type { EmitSite, ParamSchema, ParamValue, ParamValues, TemplateFile } from "../types";

type HelperOptions = import("handlebars").HelperOptions;
type TemplateDelegate = import("handlebars").TemplateDelegate;
type RuntimeOptions = import("handlebars").RuntimeOptions;

/** The full compiler (parser, code generator), loaded only when a template must be compiled. */
const compiler = (): typeof import("handlebars") => require("handlebars") as typeof import("handlebars");

type Node = hbs.AST.Node;
type Program = hbs.AST.Program;
type Expression = hbs.AST.Expression;
type PathExpression = hbs.AST.PathExpression;

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

export interface CompiledTemplate {
  file: TemplateFile;
  phaseOverride?: Phase;
  render(values: ParamValues, secretNames: Set<string>): RenderedText;
  /**
   * The same render, traced back to template lines (for error messages only: it compiles the
   * set again, with line marks in the text, so it costs nothing until something is wrong).
   */
  trace(values: ParamValues, secretNames: Set<string>): TracedText;
  /** Frees the template's code once it will not be rendered again. */
  release(): void;
}

/** Thrown inside a render, caught by the render stage, which adds nothing but the file name. */
export class RenderFault extends Error {
  constructor(
    readonly site: { template: string; line?: number; column?: number },
    message: string,
  ) {
    super(message);
  }
}

interface CustomHelper {
  /** Declared parameters the helper reads from the root context. */
  reads: string[];
  usage: string;
  fn: (args: unknown[], root: Record<string, unknown>) => unknown;
}

// The only helpers a template may call besides if/unless/each/with.
const HELPERS: Record<string, CustomHelper> = {
  image: {
    reads: ["docker_registry", "docker_image_prefix", "image_tag"],
    usage: '{{image "keystone"}}',
    // <registry>/<prefix>/<name>:<tag>; an empty registry means the default one (no leading slash).
    fn([name], root) {
      if (typeof name !== "string" || name === "") throw new Error('expects an image name, e.g. {{image "keystone"}}');
      const registry = String(unwrap(root.docker_registry).value ?? "").replace(/\/+$/, "");
      const prefix = String(unwrap(root.docker_image_prefix).value ?? "").replace(/^\/+|\/+$/g, "");
      const tag = String(unwrap(root.image_tag).value ?? "");
      return [registry, prefix, name].filter((s) => s !== "").join("/") + (tag ? `:${tag}` : "");
    },
  },
};
const BLOCK_HELPERS = new Set(["if", "unless", "each", "with", "config"]);
/** The helper of that name: its own entry in the table, never a name every object inherits (`constructor`). */
const helperNamed = (name: string): CustomHelper | undefined => (Object.hasOwn(HELPERS, name) ? HELPERS[name] : undefined);
const COMPILE_OPTIONS = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: Object.fromEntries([...Object.keys(HELPERS), "__emit", "config"].map((n) => [n, true])),
};
/** A copy for each compilation, so that the options are the same for every template. */
const compileOptions = (): CompileOptions => ({ ...COMPILE_OPTIONS, knownHelpers: { ...COMPILE_OPTIONS.knownHelpers } });
const SCOPE_CHANGING = new Set(["each", "with"]);

const DIRECTIVE = /^\s*gen-manifests:\s*phase\s*=\s*(\S+)\s*$/;

/** What a context or a block parameter is known to be: the parameters, a secret, or anything else. */
type Shape = "params" | "secret" | "unknown";

interface Scope {
  /** The contexts `../` steps back through, the current one last (#with and #each add one). */
  contexts: Shape[];
  blockParams: Map<string, Shape>;
}

/** Names every JavaScript object inherits (`constructor`, `__proto__`, `toString`, ...): never a parameter or a field. */
export const INHERITED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

interface PartialCall {
  partial: string;
  hashKeys: Set<string>;
  file: TemplateFile;
  line: number;
  column: number;
}

interface FileAnalysis {
  file: TemplateFile;
  /** Undeclared names used at root scope (allowed in partials if every caller passes them). */
  freeVars: Map<string, { line: number; column: number }>;
  calls: PartialCall[];
  phaseOverride?: Phase;
}

export interface CompileTemplatesInput {
  files: TemplateFile[];
  schema: ParamSchema;
  /** Where compiled templates are kept between runs; none (everything compiled in memory) by default. */
  cache?: CompileCache;
}

/** A template's YAML documents as JSON, with the rendered text (tokens in place of values) they were parsed from. */
export type ParsedText = [text: string, documents: string];

export interface TemplateSet {
  templates: CompiledTemplate[];
  /** Each template's documents as an earlier run of this same set parsed them, by template name. */
  parsedBefore(): Map<string, ParsedText>;
  /** Keeps each template's documents as this run parsed them, for the next run of this set. */
  keepParsed(parsed: Map<string, ParsedText>): void;
}

export function partialName(file: TemplateFile): string {
  const base = file.name.replace(/(\.hbs)$/, "");
  const slash = base.lastIndexOf("/");
  return base.slice(0, slash + 1) + base.slice(slash + 2);
}

/** One template ready to run: its precompiled code (until it is evaluated), print sites and phase directive. */
interface CompiledUnit {
  file: TemplateFile;
  spec?: string;
  sites: Omit<EmitSite, "template">[];
  phaseOverride?: Phase;
}

/** A template that passed its checks: its analysis, and its code and print sites. */
interface Checked {
  analysis: FileAnalysis;
  unit: CompiledUnit;
}

/** A checked template as its own cache entry keeps it. */
interface TemplateEntry {
  spec: string;
  sites: Omit<EmitSite, "template">[];
  phase: string | null;
  freeVars: [string, number, number][];
  calls: [string, string[], number, number][];
}

/** A template of the set as its code gives it back: its precompiled template (until it is first rendered), print sites and phase. */
interface LoadedUnit {
  file: TemplateFile;
  spec?: TemplateSpecification;
  sites: Omit<EmitSite, "template">[];
  phaseOverride?: Phase;
}

/**
 * The set is compiled once and kept whole (one entry to read on a warm run). Each template is
 * also kept on its own, by its name and text and what its checks depend on (the declared
 * parameters, the secrets and the partials' names), so that after an edit only the edited
 * template is parsed again. The gen-manifests build is part of every key (see compile-cache.ts).
 */
export function compileTemplates(input: CompileTemplatesInput): TemplateSet {
  const declared = new Set(Object.keys(input.schema.properties ?? {}));
  const secrets = secretParamNames(input.schema);
  const cache = input.cache ?? NO_CACHE;
  const partialNames = new Set(input.files.filter((f) => f.isPartial).map(partialName));
  const context = cacheKey([...declared].sort().join(","), [...secrets].sort().join(","), [...partialNames].sort().join(","));
  const setKey = cacheKey("template-set", context, ...input.files.map((f) => `${f.name}\0${f.text}`));
  const cached = cache.get(setKey);
  let units = cached === undefined ? undefined : loadSet(cached, input.files);
  if (!units) {
    // Compiled, then loaded from its code as a warm run loads it: a hit runs what a miss does.
    const code = setSource(compileSet(input.files, declared, secrets, partialNames, cache, context));
    cache.set(setKey, code);
    units = loadSet(code, input.files);
    if (!units) throw new Error("the compiled template set does not load");
  }
  const parsedKey = cacheKey("parsed-documents", setKey);
  let before: Map<string, ParsedText> | undefined;
  return {
    ...instantiate(units),
    parsedBefore: () => (before ??= readParsedEntry(cache.get(parsedKey))),
    keepParsed(parsed) {
      const earlier = before ?? readParsedEntry(cache.get(parsedKey));
      const same = earlier.size === parsed.size && [...parsed].every(([name, [text, docs]]) => earlier.get(name)?.[0] === text && earlier.get(name)?.[1] === docs);
      if (!same) cache.set(parsedKey, JSON.stringify([...parsed]));
    },
  };
}

/**
 * The set's code, as its cache entry holds it: a CommonJS module of each template's name, phase,
 * print sites and precompiled template. Plain JavaScript, evaluated at once: no text to unescape,
 * and V8 compiles each template's functions only when it is first rendered.
 */
function setSource(units: CompiledUnit[]): string {
  const entry = (u: CompiledUnit): string => `[${JSON.stringify(u.file.name)}, ${JSON.stringify(u.phaseOverride?.name ?? null)}, ${JSON.stringify(u.sites)}, ${u.spec}]`;
  return `module.exports = [\n${units.map(entry).join(",\n")}\n];\n`;
}

/** Precompiled templates require no module. */
const requireNothing = (id: string): never => {
  throw new Error(`templates.js: requires ${id}`);
};

/** The set's templates from its code; undefined where it is not the code of these templates (a damaged entry). */
function loadSet(code: string, files: TemplateFile[]): LoadedUnit[] | undefined {
  try {
    const entries = evaluateModule(code, requireNothing, "templates.js") as [string, string | null, Omit<EmitSite, "template">[], TemplateSpecification][];
    if (!Array.isArray(entries) || entries.length !== files.length) return undefined;
    return entries.map(([name, phase, sites, spec], i) => {
      if (name !== files[i].name || !Array.isArray(sites) || typeof spec !== "object" || spec === null) throw new Error("not this set's code");
      return { file: files[i], spec, sites, phaseOverride: phase ? phaseByName(phase) : undefined };
    });
  } catch {
    return undefined;
  }
}

/** Documents parsed by an earlier run, by template name; none from a missing or damaged entry. */
function readParsedEntry(text: string | undefined): Map<string, ParsedText> {
  try {
    const entry = JSON.parse(text ?? "[]") as [string, ParsedText][];
    return new Map(entry.filter(([name, p]) => typeof name === "string" && Array.isArray(p) && typeof p[0] === "string" && typeof p[1] === "string"));
  } catch {
    return new Map();
  }
}

const templateKey = (context: string, file: TemplateFile): string => cacheKey("template", context, file.name, file.text);

/** A template as it was checked and compiled before, or undefined (a damaged entry too). */
function readTemplateEntry(text: string | undefined, file: TemplateFile): Checked | undefined {
  if (text === undefined) return undefined;
  try {
    const t = JSON.parse(text) as TemplateEntry;
    if (typeof t.spec !== "string" || !Array.isArray(t.sites)) return undefined;
    const phaseOverride = t.phase ? phaseByName(t.phase) : undefined;
    const freeVars = new Map(t.freeVars.map(([name, line, column]) => [name, { line, column }]));
    const calls = t.calls.map(([partial, hashKeys, line, column]) => ({ partial, hashKeys: new Set(hashKeys), file, line, column }));
    return { analysis: { file, freeVars, calls, phaseOverride }, unit: { file, spec: t.spec, sites: t.sites, phaseOverride } };
  } catch {
    return undefined;
  }
}

function templateEntry({ analysis: a, unit }: Checked): string {
  const entry: TemplateEntry = {
    spec: unit.spec!,
    sites: unit.sites,
    phase: a.phaseOverride?.name ?? null,
    freeVars: [...a.freeVars].map(([name, { line, column }]) => [name, line, column]),
    calls: a.calls.map((c) => [c.partial, [...c.hashKeys], c.line, c.column]),
  };
  return JSON.stringify(entry);
}

/**
 * Parses, checks and compiles every template not found in the cache as it is; then checks what
 * partials use across the set. Nothing is rendered before every template passed.
 */
function compileSet(files: TemplateFile[], declared: Set<string>, secrets: Set<string>, partialNames: Set<string>, cache: CompileCache, context: string): CompiledUnit[] {
  const problems: Problem[] = [];
  const done: Checked[] = [];
  const fresh: Checked[] = [];
  for (const file of files) {
    const known = readTemplateEntry(cache.get(templateKey(context, file)), file);
    if (known) {
      done.push(known);
      continue;
    }
    const ast = parseTemplate(file, problems);
    if (!ast) continue;
    const analysis = analyseTemplate(file, ast, declared, secrets, partialNames, problems);
    if (problems.length) {
      done.push({ analysis, unit: { file, sites: [] } });
      continue;
    }
    // Compiled as soon as it is checked, and its syntax tree let go: a large set never holds every tree at once.
    const checked = { analysis, unit: { file, ...precompiled(file, ast), phaseOverride: analysis.phaseOverride } };
    done.push(checked);
    fresh.push(checked);
  }
  if (problems.length) throw new GenError("compile-templates", problems);
  // A partial may use names its callers pass; everything else must be a declared parameter.
  checkPartialCalls(done.map((d) => d.analysis), declared, problems);
  if (problems.length) throw new GenError("compile-templates", problems);
  for (const checked of fresh) cache.set(templateKey(context, checked.unit.file), templateEntry(checked));
  return done.map((d) => d.unit);
}

/** Sets up an isolated Handlebars environment with only the known helpers, and the templates in it. */
function instantiate(units: LoadedUnit[]): { templates: CompiledTemplate[] } {
  // 3. Compile in an isolated environment with only the known helpers.
  const hb = HandlebarsRuntime.create();
  for (const name of ["log", "lookup", "helperMissing", "blockHelperMissing"]) hb.unregisterHelper(name);
  hb.registerHelper("if", function (this: unknown, cond: unknown, options: HelperOptions) {
    return isEmpty(cond instanceof SecretValue ? SecretValue.value(cond) : cond) ? options.inverse(this) : options.fn(this);
  });
  hb.registerHelper("unless", function (this: unknown, cond: unknown, options: HelperOptions) {
    return isEmpty(cond instanceof SecretValue ? SecretValue.value(cond) : cond) ? options.fn(this) : options.inverse(this);
  });
  // Each file's print sites, by its name: a precompiled template names its own file.
  const sitesByFile = new Map<string, EmitSite[]>();
  hb.registerHelper("__emit", function (value: unknown, fileName: string, siteId: number, options: HelperOptions) {
    const site = sitesByFile.get(fileName)![siteId];
    if (value === undefined) throw new RenderFault(site, `${site.expression} has no value (is it a declared parameter, or a field it has? A secret parameter has no fields)`);
    if (typeof value === "function") throw new RenderFault(site, `${site.expression} is not a value`);
    const { value: raw, secrets } = unwrap(value);
    const emitted = (options.data as { gmEmitted: Emitted[] }).gmEmitted;
    const dialect = (options.data as { gmDialect?: DialectName }).gmDialect;
    emitted.push(dialect ? { value: raw, secrets, site, dialect } : { value: raw, secrets, site });
    return tokenFor(emitted.length - 1);
  });
  // Every value printed inside is written by the block's config format (fill-config-text.ts).
  hb.registerHelper("config", function (this: unknown, dialect: string, options: HelperOptions) {
    const data = hb.createFrame(options.data) as { gmDialect?: string };
    data.gmDialect = dialect;
    return options.fn(this, { data });
  });
  for (const [name, helper] of Object.entries(HELPERS)) {
    hb.registerHelper(name, function (...args: unknown[]) {
      const options = args.pop() as HelperOptions;
      const unwrapped = args.map(unwrap);
      const root = (options.data as { root: Record<string, unknown> }).root;
      const secrets = [...new Set(unwrapped.flatMap((u) => u.secrets).concat(helper.reads.flatMap((r) => unwrap(root[r]).secrets)))];
      let result: unknown;
      try {
        result = helper.fn(unwrapped.map((u) => u.value), root);
      } catch (e) {
        const loc = (options as unknown as { loc?: hbs.AST.SourceLocation }).loc;
        throw new RenderFault({ template: "", line: loc?.start.line, column: loc ? loc.start.column + 1 : undefined }, `${name}: ${(e as Error).message}`);
      }
      return secrets.length ? new SecretValue(secrets, result as ParamValue) : result;
    });
  }
  // Evaluated when first rendered; the code's text is let go then.
  const evaluate = (a: LoadedUnit): TemplateDelegate => {
    const fn = hb.template(a.spec!);
    a.spec = undefined;
    return fn;
  };
  const main = units.filter((a) => !a.file.isPartial);
  for (const a of units) {
    sitesByFile.set(a.file.name, a.sites.map((site) => ({ ...site, template: a.file.path })));
    if (a.file.isPartial) {
      let fn: TemplateDelegate | undefined;
      hb.registerPartial(partialName(a.file), (ctx: unknown, opts?: RuntimeOptions) => withFile(a.file, () => (fn ??= evaluate(a))(ctx, opts)));
    }
  }

  const files = units.map((u) => u.file);
  let tracer: Tracer | undefined;
  const templates: CompiledTemplate[] = main.map((a) => {
    let fn: TemplateDelegate | undefined;
    return {
      file: a.file,
      phaseOverride: a.phaseOverride,
      render(values: ParamValues, secretNames: Set<string>): RenderedText {
        const emitted: Emitted[] = [];
        const text = withFile(a.file, () => (fn ??= evaluate(a))(renderContext(values, secretNames), { data: { gmEmitted: emitted }, ...NO_PROTO_ACCESS }));
        return { text, emitted };
      },
      release(): void {
        fn = undefined;
      },
      trace(values: ParamValues, secretNames: Set<string>): TracedText {
        tracer ??= buildTracer(files);
        return tracer.trace(a.file.name, values, secretNames);
      },
    };
  });
  return { templates };
}

/**
 * Inherited properties stay unreadable (Handlebars' default), said explicitly: otherwise Handlebars
 * reports each denied name on the console, past the printer.
 */
const NO_PROTO_ACCESS = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false } as const;

/** The parameters as templates see them: each secret wrapped, and every name an own property (`__proto__` too). */
function renderContext(values: ParamValues, secretNames: Set<string>): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    const value = secretNames.has(k) ? new SecretValue([k], v) : v;
    if (k === "__proto__") Object.defineProperty(context, k, { value, enumerable: true, writable: true, configurable: true });
    else context[k] = value;
  }
  return context;
}

// Marks put into the traced render's text, one before each piece of template text and after each
// of its line breaks, and taken out again; NUL never stands in a template's YAML.
const MARK = /\u0000(\d+)\u0001/g;
const markFor = (id: number): string => `\u0000${id}\u0001`;

interface Tracer {
  trace(name: string, values: ParamValues, secretNames: Set<string>): TracedText;
}

/** Templates compiled again, one by one as asked for, with a mark at the start of every piece of text and line. */
function buildTracer(files: TemplateFile[]): Tracer {
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

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === false || v === "" || (Array.isArray(v) && v.length === 0);
}

/** Runs a render, naming the file in any fault that does not name one yet. */
function withFile<T>(file: TemplateFile, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof RenderFault) {
      if (!e.site.template) (e.site as { template: string }).template = file.path;
      throw e;
    }
    const ex = e as { lineNumber?: number; column?: number; message?: string };
    // Handlebars' own runtime messages can quote a value; keep only the first clause and never a value.
    const reason = String(ex.message ?? e).split(/ - \d+:\d+|\n/)[0];
    throw new RenderFault({ template: file.path, line: ex.lineNumber, column: ex.column !== undefined ? ex.column + 1 : undefined }, sanitiseRuntimeMessage(reason));
  }
}

function sanitiseRuntimeMessage(reason: string): string {
  if (/^Cannot use 'in' operator|^Cannot read prop/.test(reason)) return "looked up a field of something that is not an object";
  if (/^The partial .* could not be found/.test(reason)) return reason;
  if (/^You specified knownHelpersOnly|helper/.test(reason)) return reason;
  return "failed while rendering";
}

function parseTemplate(file: TemplateFile, problems: Problem[]): Program | undefined {
  if (file.text.includes(TOKEN_PREFIX)) {
    const before = file.text.slice(0, file.text.indexOf(TOKEN_PREFIX));
    problems.push({ file: file.path, line: before.split("\n").length, column: before.length - before.lastIndexOf("\n"), message: `contains "${TOKEN_PREFIX}", which the compiler reserves` });
    return undefined;
  }
  try {
    return compiler().parse(file.text);
  } catch (e) {
    problems.push(...describeParseError(file, e as Error & { lineNumber?: number; column?: number }));
    return undefined;
  }
}

/**
 * Handlebars' parse errors: either `msg - line:col`, or jison's `Parse error on line N:` with a
 * caret; put into words, at the tag to fix, by template-syntax.
 */
export function describeParseError(file: TemplateFile, e: Error & { lineNumber?: number; column?: number }): Problem[] {
  if (e.lineNumber !== undefined) {
    return describeSyntaxError(file.path, file.text, { line: e.lineNumber, column: (e.column ?? 0) + 1 }, undefined, e.message.replace(/ - \d+:\d+$/, ""));
  }
  const m = /Parse error on line (\d+):\n(.*)\n(-*)\^\n(.*)/.exec(e.message);
  if (!m) return describeSyntaxError(file.path, file.text, {}, undefined, e.message.split("\n")[0]);
  const line = Number(m[1]);
  // jison shows up to 20 characters before the fault, newlines removed: find them on the line.
  const truncated = m[2].startsWith("...");
  const shown = m[2].slice(0, m[3].length).replace(/^\.\.\./, "");
  const lineText = file.text.split("\n")[line - 1] ?? "";
  let column: number | undefined;
  if (truncated && lineText.includes(shown)) column = lineText.indexOf(shown) + shown.length + 1;
  else {
    for (let k = Math.min(shown.length, lineText.length); k >= 0 && column === undefined; k--) if (shown.endsWith(lineText.slice(0, k))) column = k + 1;
  }
  return describeSyntaxError(file.path, file.text, { line, column }, m[4]);
}

function at(file: TemplateFile, node: Node, message: string): Problem {
  return { file: file.path, line: node.loc.start.line, column: node.loc.start.column + 1, message };
}

function analyseTemplate(file: TemplateFile, ast: Program, declared: Set<string>, secrets: Set<string>, partials: Set<string>, problems: Problem[]): FileAnalysis {
  const analysis: FileAnalysis = { file, freeVars: new Map(), calls: [] };
  const undeclared = (node: Node, name: string, viaRoot: boolean): void => {
    if (file.isPartial && !viaRoot) {
      if (!analysis.freeVars.has(name)) analysis.freeVars.set(name, { line: node.loc.start.line, column: node.loc.start.column + 1 });
      return;
    }
    const hint = closestName(name, [...declared]);
    problems.push(at(file, node, `"${name}" is not a declared parameter${hint ? ` (did you mean "${hint}"?)` : ""}; declare it in params/schema.json`));
  };

  /**
   * What a path reaches, checked whatever its spelling: the context it starts from (`@root`, `../`,
   * a block parameter, `this` or the current one), then each name after it. A name every object
   * inherits is never a parameter or a field; a secret is one value, with no fields to read.
   */
  const resolve = (path: PathExpression, scope: Scope): Shape => {
    const inherited = path.parts.find((p) => INHERITED_NAMES.has(p));
    if (inherited !== undefined) {
      problems.push(at(file, path, `"${inherited}"${path.original === inherited ? "" : ` (in ${path.original})`} is a name every JavaScript object inherits, never a parameter or a field`));
      return "unknown";
    }
    let shape: Shape;
    let rest: string[];
    let viaRoot = false;
    if (path.data) {
      if (path.parts[0] !== "root") return "unknown"; // @index, @key, @first, @last: never a secret
      [shape, rest, viaRoot] = ["params", path.parts.slice(1), true];
    } else if (path.depth > 0) {
      shape = scope.contexts[scope.contexts.length - 1 - path.depth] ?? "unknown";
      rest = path.parts;
    } else if (!/^\.|^this\b/.test(path.original) && path.parts.length > 0 && scope.blockParams.has(path.parts[0])) {
      [shape, rest] = [scope.blockParams.get(path.parts[0])!, path.parts.slice(1)];
    } else {
      [shape, rest] = [scope.contexts[scope.contexts.length - 1], path.parts];
    }
    if (shape === "params" && rest.length > 0) {
      if (!declared.has(rest[0])) {
        undeclared(path, rest[0], viaRoot);
        return "unknown";
      }
      if (!secrets.has(rest[0])) return "unknown";
      [shape, rest] = ["secret", rest.slice(1)];
    }
    if (shape === "secret" && rest.length > 0) {
      problems.push(at(file, path, `${path.original} reads "${rest[0]}" of a secret parameter, which has no fields: a secret is used whole, and only in a Secret's data or stringData`));
      return "unknown";
    }
    return rest.length === 0 ? shape : "unknown";
  };

  const checkHelperReads = (node: Node, name: string): void => {
    for (const r of HELPERS[name].reads) {
      if (!declared.has(r)) problems.push(at(file, node, `helper "${name}" reads "${r}", which params/schema.json does not declare`));
    }
  };

  const expression = (expr: Expression, scope: Scope): Shape => {
    if (expr.type === "PathExpression") return resolve(expr as PathExpression, scope);
    if (expr.type === "SubExpression") call(expr as hbs.AST.SubExpression, scope, false);
    return "unknown";
  };

  const call = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression, scope: Scope, isMustache: boolean): void => {
    const path = node.path as Expression;
    const hasArgs = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    if (path.type !== "PathExpression") {
      if (hasArgs) problems.push(at(file, node, "only a helper name can take arguments"));
      return;
    }
    const name = (path as PathExpression).original;
    if (helperNamed(name)) checkHelperReads(node, name);
    else if ((hasArgs || !isMustache) && !(path as PathExpression).parts.some((p) => INHERITED_NAMES.has(p))) {
      const known = Object.keys(HELPERS);
      const hint = closestName(name, known);
      problems.push(at(file, node, `unknown helper "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; known helpers: ${known.join(", ")} and the blocks #${[...BLOCK_HELPERS].join(", #")}`));
      return;
    } else resolve(path as PathExpression, scope);
    node.params.forEach((p) => expression(p, scope));
    node.hash?.pairs.forEach((p) => expression(p.value, scope));
  };

  const program = (prog: Program | undefined, scope: Scope): void => {
    if (!prog) return;
    for (const stmt of prog.body) statement(stmt, scope);
  };

  const statement = (stmt: hbs.AST.Statement, scope: Scope): void => {
    switch (stmt.type) {
      case "ContentStatement":
        return;
      case "CommentStatement": {
        const m = DIRECTIVE.exec((stmt as hbs.AST.CommentStatement).value);
        if (!m) return;
        const phase = phaseByName(m[1]);
        if (!phase) problems.push(at(file, stmt, `unknown phase "${m[1]}"; expected one of ${PHASES.map((p) => p.name).join(", ")}`));
        else analysis.phaseOverride = phase;
        return;
      }
      case "MustacheStatement":
        return call(stmt as hbs.AST.MustacheStatement, scope, true);
      case "BlockStatement": {
        const block = stmt as hbs.AST.BlockStatement;
        const name = (block.path as PathExpression).original;
        if (!BLOCK_HELPERS.has(name)) {
          problems.push(at(file, block, `unknown block helper "#${name}"; known: #${[...BLOCK_HELPERS].join(", #")}`));
          return;
        }
        if (block.params.length !== 1) problems.push(at(file, block, `#${name} takes exactly one argument`));
        else if (name === "config") checkConfigBlock(file, block, problems);
        const shapes = block.params.map((p) => expression(p, scope));
        if (name === "each" && shapes[0] === "secret") problems.push(at(file, block, `#each cannot go through a secret parameter: a secret is one value, used whole, and only in a Secret's data or stringData`));
        // Inside #with, the context is what it was given; inside #each, one item of it (any parameter, in @root's).
        const given: Shape = name === "with" ? (shapes[0] ?? "unknown") : "unknown";
        const blockParams = new Map(scope.blockParams);
        (block.program.blockParams ?? []).forEach((p, i) => blockParams.set(p, i === 0 ? given : "unknown"));
        const inner: Scope = { contexts: SCOPE_CHANGING.has(name) ? [...scope.contexts, given] : scope.contexts, blockParams };
        program(block.program, inner);
        program(block.inverse, scope);
        return;
      }
      case "PartialStatement": {
        const partial = stmt as hbs.AST.PartialStatement;
        if (partial.name.type !== "PathExpression") {
          problems.push(at(file, partial, "a partial must be named, not computed"));
          return;
        }
        const name = (partial.name as PathExpression).original;
        if (!partials.has(name)) {
          problems.push(at(file, partial, `no partial named "${name}" (expected a file _${name.split("/").pop()}.hbs)`));
          return;
        }
        partial.params.forEach((p) => expression(p, scope));
        partial.hash?.pairs.forEach((p) => expression(p.value, scope));
        if (partial.params.length === 0 && scope.contexts[scope.contexts.length - 1] === "params") {
          analysis.calls.push({
            partial: name,
            hashKeys: new Set(partial.hash?.pairs.map((p) => p.key) ?? []),
            file,
            line: partial.loc.start.line,
            column: partial.loc.start.column + 1,
          });
        }
        return;
      }
      default:
        problems.push(at(file, stmt, `${stmt.type.replace(/Statement$/, "").toLowerCase()} is not supported in templates`));
    }
  };

  program(ast, { contexts: ["params"], blockParams: new Map() });
  return analysis;
}

/** `{{#config "oslo"}}`: a known format, named as written, not nested, with no `{{else}}`. */
function checkConfigBlock(file: TemplateFile, block: hbs.AST.BlockStatement, problems: Problem[]): void {
  const [arg] = block.params;
  const named = arg.type === "StringLiteral" ? (arg as hbs.AST.StringLiteral).value : undefined;
  if (!isDialectName(named)) problems.push(at(file, block, `#config names the format of the text it writes: one of ${DIALECT_NAMES.map((d) => `"${d}"`).join(", ")}`));
  if (block.inverse) problems.push(at(file, block, "#config takes no {{else}}"));
  const nested = (prog: Program | undefined): boolean =>
    !!prog?.body.some((s) => s.type === "BlockStatement" && ((s as hbs.AST.BlockStatement).path as PathExpression).original === "config" ? true : s.type === "BlockStatement" && (nested((s as hbs.AST.BlockStatement).program) || nested((s as hbs.AST.BlockStatement).inverse)));
  if (nested(block.program)) problems.push(at(file, block, "#config blocks do not nest: one text, one format"));
}

function checkPartialCalls(analyses: FileAnalysis[], declared: Set<string>, problems: Problem[]): void {
  const byPartial = new Map(analyses.filter((a) => a.file.isPartial).map((a) => [partialName(a.file), a]));
  const memo = new Map<string, Map<string, string>>();
  // name → where it is first used, across nested partials.
  const freeVarsOf = (name: string, stack: string[]): Map<string, string> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const a = byPartial.get(name)!;
    if (stack.includes(name)) {
      problems.push({ file: a.file.path, message: `partial "${name}" includes itself (${[...stack, name].join(" → ")})` });
      return new Map();
    }
    const vars = new Map<string, string>();
    for (const [v, loc] of a.freeVars) vars.set(v, `${a.file.path}:${loc.line}:${loc.column}`);
    for (const c of a.calls) {
      for (const [v, where] of freeVarsOf(c.partial, [...stack, name])) if (!c.hashKeys.has(v) && !vars.has(v)) vars.set(v, where);
    }
    memo.set(name, vars);
    return vars;
  };
  for (const a of analyses) {
    if (a.file.isPartial) continue;
    for (const c of a.calls) {
      for (const [v, where] of freeVarsOf(c.partial, [])) {
        if (c.hashKeys.has(v) || declared.has(v)) continue;
        problems.push({ file: c.file.path, line: c.line, column: c.column, message: `partial "${c.partial}" uses "${v}" (at ${where}), which is neither a declared parameter nor passed to it` });
      }
    }
  }
}

/** The template's print sites and precompiled code. */
function precompiled(file: TemplateFile, ast: Program): { spec: string; sites: Omit<EmitSite, "template">[] } {
  const sites = rewriteMustaches(ast, file).map(({ line, column, expression }) => ({ line, column, expression }));
  return { spec: flat(compiler().precompile(ast, compileOptions()) as unknown as string), sites };
}

/**
 * Handlebars builds a template's code by appending thousands of small strings, which V8 keeps as
 * a tree of the pieces (~7 times the text's size) until something reads the text through; reading
 * a character makes V8 flatten it in place. A first run of 10,000 templates holds every template's
 * code until the set is written: 100 MB more at its peak, unflattened.
 */
const flat = (s: string): string => (s.charCodeAt(0), s);

type CompileOptions = typeof COMPILE_OPTIONS;
type TemplateSpecification = Parameters<typeof HandlebarsRuntime.template>[0];

/** Replaces each `{{expr}}` with `{{__emit (expr) "file" siteId}}`, so it prints a token. */
function rewriteMustaches(ast: Program, file: TemplateFile): EmitSite[] {
  const sites: EmitSite[] = [];
  const lines = file.text.split("\n");
  const visit = (prog: Program | undefined): void => {
    if (!prog) return;
    prog.body = prog.body.map((stmt) => {
      if (stmt.type === "BlockStatement") {
        visit((stmt as hbs.AST.BlockStatement).program);
        visit((stmt as hbs.AST.BlockStatement).inverse);
        return stmt;
      }
      if (stmt.type !== "MustacheStatement") return stmt;
      const m = stmt as hbs.AST.MustacheStatement;
      const { start, end } = m.loc;
      const source = start.line === end.line ? lines[start.line - 1].slice(start.column, end.column) : `{{${(m.path as PathExpression).original}}}`;
      sites.push({ template: file.path, line: start.line, column: start.column + 1, expression: source });
      const isHelperCall = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0 || (m.path.type === "PathExpression" && helperNamed((m.path as PathExpression).original) !== undefined);
      const value: Expression = isHelperCall
        ? ({ type: "SubExpression", path: m.path, params: m.params, hash: m.hash, loc: m.loc } as unknown as Expression)
        : (m.path as Expression);
      const fileName = { type: "StringLiteral", value: file.name, original: file.name, loc: m.loc } as unknown as Expression;
      const siteId = { type: "NumberLiteral", value: sites.length - 1, original: sites.length - 1, loc: m.loc } as unknown as Expression;
      return {
        type: "MustacheStatement",
        path: { type: "PathExpression", data: false, depth: 0, parts: ["__emit"], original: "__emit", loc: m.loc },
        params: [value, fileName, siteId],
        hash: undefined,
        escaped: false,
        strip: m.strip,
        loc: m.loc,
      } as unknown as hbs.AST.MustacheStatement;
    });
  };
  visit(ast);
  return sites;
}
