// The Handlebars runtime gen-manifests renders with, and its helpers: an isolated environment
// (Handlebars.create()) with only the known helpers, templates compiled with noEscape, strict and
// knownHelpersOnly, and every `{{expr}}` rewritten to print a value token (value-tokens.ts). The
// full compiler is loaded only when a template must be compiled; a warm run needs only the runtime.
import type { Script } from "node:vm";
import HandlebarsRuntime from "handlebars/runtime";
import { type DialectName } from "./config-dialects";
import { evaluateModule } from "./compile-cache";
import { type Phase, phaseByName } from "./phases";
import { type Emitted, type RenderedText, SecretValue, tokenFor, type TracedText, unwrap } from "./value-tokens";
import type { EmitSite, ParamValue, ParamValues, TemplateFile } from "./types";

type HelperOptions = import("handlebars").HelperOptions;
type TemplateDelegate = import("handlebars").TemplateDelegate;
type RuntimeOptions = import("handlebars").RuntimeOptions;
type Program = hbs.AST.Program;
type Expression = hbs.AST.Expression;
type PathExpression = hbs.AST.PathExpression;

/** The full compiler (parser, code generator), loaded only when a template must be compiled. */
export const compiler = (): typeof import("handlebars") => require("handlebars") as typeof import("handlebars");

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
export const HELPERS: Record<string, CustomHelper> = {
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
  uri_component: {
    reads: [],
    usage: "{{uri_component rabbitmq_password}}",
    // A value inside a URL (a password in a transport URL): percent-encoded, so that `@`, `:`, `/`,
    // `#`, `%` and blanks stay the value's own; the reader decodes it (oslo.messaging unquotes both).
    fn([value]) {
      if (typeof value !== "string" && typeof value !== "number") throw new Error("expects a text value, e.g. {{uri_component rabbitmq_password}}");
      return encodeURIComponent(String(value)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    },
  },
};

export const BLOCK_HELPERS = new Set(["if", "unless", "each", "with", "config"]);

/** The helper of that name: its own entry in the table, never a name every object inherits (`constructor`). */
export const helperNamed = (name: string): CustomHelper | undefined => (Object.hasOwn(HELPERS, name) ? HELPERS[name] : undefined);

const COMPILE_OPTIONS = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: Object.fromEntries([...Object.keys(HELPERS), "__emit", "config"].map((n) => [n, true])),
};

/** A copy for each compilation, so that the options are the same for every template. */
export const compileOptions = (): CompileOptions => ({ ...COMPILE_OPTIONS, knownHelpers: { ...COMPILE_OPTIONS.knownHelpers } });

export function partialName(file: TemplateFile): string {
  const base = file.name.replace(/(\.hbs)$/, "");
  const slash = base.lastIndexOf("/");
  return base.slice(0, slash + 1) + base.slice(slash + 2);
}

/** One template ready to run: its precompiled code (until it is evaluated), print sites and phase directive. */
export interface CompiledUnit {
  file: TemplateFile;
  spec?: string;
  sites: Omit<EmitSite, "template">[];
  phaseOverride?: Phase;
}

/** A template of the set as its code gives it back: its precompiled template (until it is first rendered), print sites and phase. */
export interface LoadedUnit {
  file: TemplateFile;
  spec?: TemplateSpecification;
  sites: Omit<EmitSite, "template">[];
  phaseOverride?: Phase;
}

/**
 * The set's code, as its cache entry holds it: a CommonJS module of each template's name, phase,
 * print sites and precompiled template. Plain JavaScript, evaluated at once: no text to unescape,
 * and V8 compiles each template's functions only when it is first rendered.
 */
export function setSource(units: CompiledUnit[]): string {
  const entry = (u: CompiledUnit): string => `[${JSON.stringify(u.file.name)}, ${JSON.stringify(u.phaseOverride?.name ?? null)}, ${JSON.stringify(u.sites)}, ${u.spec}]`;
  return `module.exports = [\n${units.map(entry).join(",\n")}\n];\n`;
}

/** Precompiled templates require no module. */
const requireNothing = (id: string): never => {
  throw new Error(`templates.js: requires ${id}`);
};

/** The set's templates from its code; undefined where it is not the code of these templates (a damaged entry). */
export function loadSet(code: string, files: TemplateFile[], cachedData?: Buffer, loaded?: (script: Script) => void): LoadedUnit[] | undefined {
  try {
    const entries = evaluateModule(code, requireNothing, "templates.js", cachedData, loaded) as [string, string | null, Omit<EmitSite, "template">[], TemplateSpecification][];
    if (!Array.isArray(entries) || entries.length !== files.length) return undefined;
    return entries.map(([name, phase, sites, spec], i) => {
      if (name !== files[i].name || !Array.isArray(sites) || typeof spec !== "object" || spec === null) throw new Error("not this set's code");
      return { file: files[i], spec, sites, phaseOverride: phase ? phaseByName(phase) : undefined };
    });
  } catch {
    return undefined;
  }
}

/** How a template's render is traced back to template lines (template-trace.ts); none for a set that is itself a trace. */
export type TraceRender = (file: TemplateFile, values: ParamValues, secretNames: Set<string>) => TracedText;

const NOT_TRACED: TraceRender = (file) => {
  throw new Error(`${file.path}: not traced`);
};

/** Sets up an isolated Handlebars environment with only the known helpers, and the templates in it. */
export function instantiate(units: LoadedUnit[], trace = NOT_TRACED): { templates: CompiledTemplate[] } {
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
      trace: (values: ParamValues, secretNames: Set<string>): TracedText => trace(a.file, values, secretNames),
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

/** The template's print sites and precompiled code. */
export function precompiled(file: TemplateFile, ast: Program): { spec: string; sites: Omit<EmitSite, "template">[] } {
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
export function rewriteMustaches(ast: Program, file: TemplateFile): EmitSite[] {
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
