// Parses every template before any is rendered, checks what each one may use (template-analysis.ts),
// and compiles them for the Handlebars runtime (template-runtime.ts), through the compile cache
// when it is given one.
import type { Script } from "node:vm";
import { cacheKey, CompileCache, NO_CACHE } from "../compile-cache";
import { GenError, Problem } from "../errors";
import { phaseByName } from "../phases";
import { analyseTemplate, checkPartialCalls, type FileAnalysis, parseTemplate } from "../template-analysis";
import { type CompiledTemplate, type CompiledUnit, instantiate, loadSet, partialName, precompiled, setSource, type TraceRender } from "../template-runtime";
import { buildTracer, type Tracer } from "../template-trace";
import { secretParamNames } from "./validate-params";
import type { EmitSite, ParamSchema, TemplateFile } from "../types";

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
  // V8's code cache of the set's code, beside its entry: without it, each template's functions are
  // compiled when it is first rendered, a fifth of a warm run of 1,000 templates (bench/results.md).
  let script: Script | undefined;
  let codeCache = cached === undefined ? undefined : cache.getCodeCache?.(setKey);
  let units = cached === undefined ? undefined : loadSet(cached, input.files, codeCache, (s) => (script = s));
  if (!units) {
    // Compiled, then loaded from its code as a warm run loads it: a hit runs what a miss does.
    const code = setSource(compileSet(input.files, declared, secrets, partialNames, cache, context));
    cache.set(setKey, code);
    codeCache = undefined;
    units = loadSet(code, input.files, undefined, (s) => (script = s));
    if (!units) throw new Error("the compiled template set does not load");
  }
  // Taken after the render (keepParsed), so it holds the functions the render compiled.
  let keepCodeCache = cache.setCodeCache !== undefined && (codeCache === undefined || script!.cachedDataRejected === true);
  const parsedKey = cacheKey("parsed-documents", setKey);
  let before: Map<string, ParsedText> | undefined;
  let tracer: Tracer | undefined;
  const trace: TraceRender = (file, values, secretNames) => (tracer ??= buildTracer(input.files)).trace(file.name, values, secretNames);
  return {
    ...instantiate(units, trace),
    parsedBefore: () => (before ??= readParsedEntry(cache.get(parsedKey))),
    keepParsed(parsed) {
      if (keepCodeCache) cache.setCodeCache!(setKey, script!.createCachedData());
      keepCodeCache = false;
      const earlier = before ?? readParsedEntry(cache.get(parsedKey));
      const same = earlier.size === parsed.size && [...parsed].every(([name, [text, docs]]) => earlier.get(name)?.[0] === text && earlier.get(name)?.[1] === docs);
      if (!same) cache.set(parsedKey, parsedEntry(parsed));
    },
  };
}

/**
 * The parsed documents' entry: for each template, a line with its name and rendered text (JSON),
 * then a line with its documents as JSON, as they are (JSON has no raw line break): a template's
 * documents are read only where its text is the same, and never unescaped.
 */
const parsedEntry = (parsed: Map<string, ParsedText>): string => [...parsed].map(([name, [text, docs]]) => `${JSON.stringify([name, text])}\n${docs}`).join("\n");

/** Documents parsed by an earlier run, by template name; none from a missing or damaged entry. */
function readParsedEntry(text: string | undefined): Map<string, ParsedText> {
  const parsed = new Map<string, ParsedText>();
  if (!text) return parsed;
  const lines = text.split("\n");
  try {
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const [name, rendered] = JSON.parse(lines[i]) as unknown[];
      if (typeof name !== "string" || typeof rendered !== "string") return new Map();
      parsed.set(name, [rendered, lines[i + 1]]);
    }
  } catch {
    return new Map();
  }
  return lines.length % 2 === 0 ? parsed : new Map();
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
