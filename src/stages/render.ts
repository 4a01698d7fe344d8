// Renders each template, splits its output into YAML documents, and puts the parameter values
// into the parsed documents. Values are inserted into the parsed tree, never into YAML text, so
// no value can change a manifest's shape; and each secret's landing place is checked.
import yaml from "js-yaml";
import { GenError, Problem } from "../errors";
import { InexactInteger, loadKubeDocuments } from "../kube-yaml";
import type { KubeObject, Params, RenderedObject } from "../types";
import type { ParsedText, TemplateSet } from "./compile-templates";
import { type CompiledTemplate, RenderFault } from "../template-runtime";
import { type Emitted, type RenderedText, type SourcePlace, TOKEN_PATTERN, TOKEN_PREFIX, tokenFor } from "../value-tokens";
import { fillConfigText, type ParamPlaces } from "./fill-config-text";
import { documentPlace, withPlace } from "./locate-problems";

/** Aliases may share nodes; a document that expands past this is refused (an alias bomb). */
const MAX_EXPANDED_NODES = 1_000_000;

export interface RenderOptions {
  /** Each template's code is freed as soon as it has rendered (the pipeline's case). */
  once?: boolean;
}

export function renderTemplates(set: TemplateSet, params: Params, options: RenderOptions = {}): RenderedObject[] {
  const problems: Problem[] = [];
  const objects: RenderedObject[] = [];
  // A text holds only the templates' own text and tokens, never a value; the same text always
  // parses to the same documents, so those of an earlier run are used while the text stays the same.
  const before = set.parsedBefore();
  const parsed = new Map<string, ParsedText>();
  for (const template of set.templates) {
    // A template's problems are reported together, in the set's order, whatever found them.
    let rendered: RenderedText;
    try {
      rendered = template.render(params.values, params.secretNames);
    } catch (e) {
      if (!(e instanceof RenderFault)) throw e;
      problems.push({ file: e.site.template, line: e.site.line, column: e.site.column, message: e.message });
      continue;
    } finally {
      if (options.once) template.release();
    }
    const earlier = before.get(template.file.name);
    let docs = earlier?.[0] === rendered.text ? keptDocuments(earlier[1]) : undefined;
    if (docs) parsed.set(template.file.name, earlier!);
    else {
      docs = parseDocuments(template, params, rendered, problems);
      // Kept before the values go in (in place); a tree JSON cannot give back exactly is parsed again next time.
      if (docs && !rendered.text.includes("*") && holdsAsJson(docs)) parsed.set(template.file.name, [rendered.text, JSON.stringify(docs)]);
    }
    if (docs !== undefined) objects.push(...objectsOf(template, params, rendered, docs, problems));
  }
  if (problems.length) throw new GenError("render", problems);
  set.keepParsed(parsed);
  return objects;
}

/** Documents kept as JSON by an earlier run; undefined where the entry is damaged (then the text is parsed). */
function keptDocuments(json: string): unknown[] | undefined {
  try {
    const docs = JSON.parse(json) as unknown;
    return Array.isArray(docs) ? docs : undefined;
  } catch {
    return undefined;
  }
}

/** Whether JSON gives the tree back exactly: it has no infinite number, NaN or -0 (and no alias shares its nodes). */
function holdsAsJson(v: unknown): boolean {
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (v === null || typeof v !== "object") return true;
  for (const child of Array.isArray(v) ? v : Object.values(v)) if (!holdsAsJson(child)) return false;
  return true;
}

/** Where a value was placed in the object: its path, and what was emitted there. */
interface Placement {
  path: (string | number)[];
  emitted: Emitted;
}

/** A node an alias names again: where it was first, and where it stands again. */
interface Alias {
  first: (string | number)[];
  again: (string | number)[];
}

interface Substitution {
  emitted: Emitted[];
  /** The nodes of the document named again by aliases (none without a `*`). */
  aliases: Alias[];
  /** Tokens that stand right after a quote: a quoted `"{{x}}"` is always text. */
  quoted: Set<number>;
  reached: Set<number>;
  placements: Placement[];
  problems: Problem[];
  params?: ParamPlaces;
}

/** A text's YAML documents, or undefined (with a problem) where it is not YAML. */
function parseDocuments(template: CompiledTemplate, params: Params, rendered: RenderedText, problems: Problem[]): unknown[] | undefined {
  try {
    return loadKubeDocuments(rendered.text, template.file.path);
  } catch (e) {
    if (!(e instanceof yaml.YAMLException)) throw e;
    problems.push(yamlProblem(template, params, e, rendered.text, rendered.emitted));
    return undefined;
  }
}

/** The objects of a template's parsed documents, with the values put in. */
function objectsOf(template: CompiledTemplate, params: Params, { text, emitted }: RenderedText, docs: unknown[], problems: Problem[]): RenderedObject[] {
  const file = template.file.path;
  const before = problems.length;
  const sub: Substitution = { emitted, aliases: [], quoted: quotedTokens(text), reached: new Set(), placements: [], problems, params };
  // Without a `*` there is no alias, and nothing to expand.
  const mayAlias = text.includes("*");
  const objects: RenderedObject[] = [];
  let index = 0;
  for (const doc of docs) {
    // A document of only comments or nothing (e.g. after a trailing ---) is not an object.
    if (doc === null || doc === undefined) continue;
    index++;
    const docStart = problems.length;
    if (mayAlias && expandedSize(doc, new Map()) > MAX_EXPANDED_NODES) {
      problems.push(documentProblem(template, params, index, `expands to more than ${MAX_EXPANDED_NODES.toLocaleString("en")} nodes through aliases`));
      continue;
    }
    sub.placements = [];
    sub.aliases = [];
    const object = substitute(doc, [], sub, mayAlias ? new Map() : undefined);
    if (problems.length > docStart) continue;
    const shapeProblem = checkObjectShape(object);
    if (shapeProblem) {
      problems.push(documentProblem(template, params, index, shapeProblem));
      continue;
    }
    const secretPaths = sub.aliases.length ? throughAliases(sub.placements, sub.aliases) : sub.placements;
    if (!secretPaths) {
      problems.push(documentProblem(template, params, index, `its aliases repeat a secret parameter in more than ${MAX_ALIASED_SECRET_PATHS.toLocaleString("en")} places; do not alias a node that holds a secret`));
      continue;
    }
    checkSecretPlacement(object as KubeObject, secretPaths, problems);
    objects.push({ object: object as KubeObject, template: file, source: template.file.source, document: index, phaseOverride: template.phaseOverride });
  }
  emitted.forEach((e, i) => {
    if (!sub.reached.has(i) && problems.length === before) {
      problems.push(siteProblem(e, `the value of ${e.site.expression} does not reach any manifest (it stands in a YAML comment, tag or anchor); remove it`));
    }
  });
  return objects;
}

function quotedTokens(text: string): Set<number> {
  const quoted = new Set<number>();
  for (const m of text.matchAll(TOKEN_PATTERN)) {
    const before = text[m.index! - 1];
    if (before === '"' || before === "'") quoted.add(Number(m[1]));
  }
  return quoted;
}

/** A problem with a whole document, at the template line where the document starts. */
function documentProblem(template: CompiledTemplate, params: Params, index: number, message: string): Problem {
  const problem = { file: template.file.path, message: `document ${index}: ${message}` };
  const at = documentPlace(template, params, index);
  return at ? withPlace(problem, { file: at.file, line: at.line }, template.file.path) : problem;
}

function siteProblem(e: Emitted, message: string): Problem {
  return { file: e.site.template, line: e.site.line, column: e.site.column, message };
}

/**
 * A YAML error, at the template line that wrote the failing text (a partial's, if it did), with
 * the rendered line shown as the template wrote it (tokens as `{{expr}}`).
 */
function yamlProblem(template: CompiledTemplate, params: Params, e: yaml.YAMLException, text: string, emitted: Emitted[]): Problem {
  const what = e instanceof InexactInteger ? "output has a number gen-manifests cannot write back" : "output is not valid YAML";
  if (!e.mark) return { file: template.file.path, message: `${what}: ${e.reason}` };
  const lineText = text.split("\n")[e.mark.line] ?? "";
  const shown = lineText.replace(TOKEN_PATTERN, (_, i) => emitted[Number(i)]?.site.expression ?? "?");
  const problem: Problem = { file: template.file.path, message: `${what} (rendered line ${e.mark.line + 1}: ${JSON.stringify(shown.trim().slice(0, 100))}): ${e.reason}` };
  let at: SourcePlace | undefined;
  try {
    const traced = template.trace(params.values, params.secretNames);
    // The traced text is the same text; its offsets are the parser's.
    if (traced.text === text) at = traced.placeAt(Math.min(e.mark.position, Math.max(text.length - 1, 0)));
  } catch {
    // Untraceable: the template, and the rendered line in the message.
  }
  return at ? withPlace(problem, at, template.file.path) : problem;
}

/** Nodes a document has once its aliases are expanded, counted without expanding them. */
function expandedSize(v: unknown, memo: Map<object, number>): number {
  if (v === null || typeof v !== "object") return 1;
  const known = memo.get(v);
  if (known !== undefined) return known;
  memo.set(v, 1); // a cycle counts once
  let size = 1;
  for (const child of Array.isArray(v) ? v : Object.values(v)) {
    size += expandedSize(child, memo);
    if (size > MAX_EXPANDED_NODES) break;
  }
  memo.set(v, size);
  return size;
}

/**
 * Replaces every token in a parsed document with its value, in place: the document is the
 * parser's fresh tree, and a copy of it would be garbage a moment later. A plain scalar that is
 * exactly one token takes the value with its type (a number stays a number, an object becomes a
 * mapping); a token inside a longer or quoted scalar is put in as text. A token may not be a
 * mapping key.
 */
function substitute(v: unknown, path: (string | number)[], sub: Substitution, seen: Map<object, (string | number)[]> | undefined): unknown {
  if (typeof v === "string") return v.includes(TOKEN_PREFIX) ? substituteString(v, path, sub) : v;
  if (v === null || typeof v !== "object") return v;
  // Only a document with aliases shares nodes; only then are visited nodes remembered.
  if (seen) {
    const first = seen.get(v);
    if (first) {
      // An alias: the node it names is already done, and stands here too.
      sub.aliases.push({ first, again: [...path] });
      return v;
    }
    seen.set(v, [...path]);
  }
  // `path` is one stack, pushed and popped; it is copied only where a value lands.
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      v[i] = substitute(v[i], path, sub, seen);
      path.pop();
    }
    return v;
  }
  const node = v as Record<string, unknown>;
  for (const key of Object.keys(node)) {
    if (key.includes(TOKEN_PREFIX)) {
      for (const m of key.matchAll(TOKEN_PATTERN)) {
        const e = sub.emitted[Number(m[1])];
        sub.reached.add(Number(m[1]));
        sub.problems.push(siteProblem(e, `${e.site.expression} stands in a mapping key; a parameter may only be a value`));
      }
      delete node[key];
      continue;
    }
    path.push(key);
    const value = node[key];
    const replaced = substitute(value, path, sub, seen);
    // Assigned only where a token was: the parser made every key an own property (`__proto__` too).
    if (replaced !== value) node[key] = replaced;
    path.pop();
  }
  return node;
}

function substituteString(s: string, path: (string | number)[], sub: Substitution): unknown {
  const indexes = [...s.matchAll(TOKEN_PATTERN)].map((m) => Number(m[1]));
  for (const i of indexes) {
    sub.reached.add(i);
    sub.placements.push({ path: [...path], emitted: sub.emitted[i] });
  }
  if (indexes.length === 1 && s === tokenFor(indexes[0]) && !sub.quoted.has(indexes[0]) && !sub.emitted[indexes[0]].dialect) return sub.emitted[indexes[0]].value;
  const config = fillConfigText(s, path, sub.emitted, sub.problems, sub.params);
  if (config !== undefined) return config;
  return s.replace(TOKEN_PATTERN, (_, i) => asText(sub.emitted[Number(i)], sub.problems));
}

function asText(e: Emitted, problems: Problem[]): string {
  const v = e.value;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  problems.push(siteProblem(e, `${e.site.expression} is ${v === null ? "null" : Array.isArray(v) ? "a list" : "an object"}; only a whole value (not part of a text) can be one`));
  return "";
}

function checkObjectShape(o: unknown): string | undefined {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)";
  const obj = o as Record<string, unknown>;
  const missing = ["apiVersion", "kind"].filter((k) => typeof obj[k] !== "string" || obj[k] === "");
  const meta = obj.metadata as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== "object" || typeof meta.name !== "string" || meta.name === "") missing.push("metadata.name");
  return missing.length ? `expected a Kubernetes object; missing ${missing.join(", ")}` : undefined;
}

/** More paths than this to secrets, through aliases, and the document is refused rather than checked path by path. */
const MAX_ALIASED_SECRET_PATHS = 10_000;

/**
 * The secrets' placements, at every path an alias makes them reachable by as well: a node under a
 * Secret's stringData, named again under its metadata, puts the secret in both places. Through an
 * alias inside the node it names (a cycle), a secret is one level deeper than its own place, so
 * never directly under data or stringData: one such path is enough to refuse it.
 */
function throughAliases(placements: Placement[], aliases: Alias[]): Placement[] | undefined {
  const under = (path: (string | number)[], prefix: (string | number)[]): boolean => prefix.length <= path.length && prefix.every((p, k) => path[k] === p);
  const all = placements.filter((p) => p.emitted.secrets.length > 0);
  const ends: Placement[] = [];
  for (let i = 0; i < all.length; i++) {
    const { path, emitted } = all[i];
    for (const { first, again } of aliases) {
      if (!under(path, first)) continue;
      const more = { path: [...again, ...path.slice(first.length)], emitted };
      (under(again, first) ? ends : all).push(more);
    }
    if (all.length + ends.length > MAX_ALIASED_SECRET_PATHS) return undefined;
  }
  return [...all, ...ends];
}

/** A secret parameter may land only in a Secret's data or stringData. */
function checkSecretPlacement(object: KubeObject, placements: Placement[], problems: Problem[]): void {
  for (const { path, emitted } of placements) {
    if (emitted.secrets.length === 0) continue;
    const inSecretData = object.kind === "Secret" && path.length === 2 && (path[0] === "data" || path[0] === "stringData");
    if (inSecretData) continue;
    const names = emitted.secrets.map((n) => `"${n}"`).join(", ");
    problems.push(
      siteProblem(emitted, `secret parameter ${names} lands in ${object.kind} ${object.metadata.name} at ${formatPath(path)}; a secret may only be placed in a Secret's data or stringData (read it with valueFrom.secretKeyRef)`),
    );
  }
}

/** `spec.template.spec.containers[0].env[2].value` */
export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$-]*$/.test(p) ? `${i ? "." : ""}${p}` : `[${JSON.stringify(p)}]`)).join("");
}
