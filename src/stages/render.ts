// Renders each template, splits its output into YAML documents, and puts the parameter values
// into the parsed documents. Values are inserted into the parsed tree, never into YAML text, so
// no value can change a manifest's shape; and each secret's landing place is checked.
import { Document, isMap, isPair, isScalar, isSeq, Node, parseAllDocuments, Scalar, SchemaOptions, visit } from "yaml";
import { GenError, Problem } from "../errors";
import type { KubeObject, Params, RenderedObject } from "../types";
import type { CompiledTemplate, Emitted, TemplateSet } from "./compile-templates";
import { RenderFault, TOKEN_PATTERN } from "./compile-templates";

/** What Kubernetes reads: YAML 1.1, except that timestamps stay strings (as in Go's yaml.v2). */
export const KUBE_YAML_OPTIONS = {
  version: "1.1" as const,
  merge: true,
  uniqueKeys: true,
  customTags: ((tags) => tags.filter((t) => typeof t === "string" ? t !== "timestamp" : t.tag !== "tag:yaml.org,2002:timestamp")) as SchemaOptions["customTags"],
};

export function renderTemplates(set: TemplateSet, params: Params): RenderedObject[] {
  const problems: Problem[] = [];
  const objects: RenderedObject[] = [];
  for (const template of set.templates) {
    try {
      objects.push(...renderTemplate(template, params, problems));
    } catch (e) {
      if (!(e instanceof RenderFault)) throw e;
      problems.push({ file: e.site.template, line: e.site.line, column: e.site.column, message: e.message });
    }
  }
  if (problems.length) throw new GenError("render", problems);
  return objects;
}

function renderTemplate(template: CompiledTemplate, params: Params, problems: Problem[]): RenderedObject[] {
  const { text, emitted } = template.render(params.values, params.secretNames);
  const file = template.file.path;
  const before = problems.length;
  const reached = new Set<number>();
  const objects: RenderedObject[] = [];
  const docs = parseAllDocuments(text, KUBE_YAML_OPTIONS);
  const lines = text.split("\n");
  let index = 0;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) problems.push(yamlProblem(file, err, lines, emitted));
      continue;
    }
    // A document of only comments or nothing (e.g. after a trailing ---) is not an object.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    index++;
    const docStart = problems.length;
    const placed = insertValues(doc, emitted, reached, file, problems);
    if (problems.length > docStart) continue;
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // An alias without its anchor, or an alias bomb: the YAML is wrong, not the compiler.
      problems.push({ file, line: lineOf(text, doc.contents), message: `document ${index}: output is not valid YAML: ${(e as Error).message.split("\n")[0]}` });
      continue;
    }
    const shapeProblem = checkObjectShape(object);
    if (shapeProblem) {
      problems.push({ file, line: lineOf(text, doc.contents), message: `document ${index}: ${shapeProblem}` });
      continue;
    }
    checkSecretPlacement(object as KubeObject, placed, problems);
    objects.push({ object: object as KubeObject, template: file, source: template.file.source, document: index, phaseOverride: template.phaseOverride });
  }
  emitted.forEach((e, i) => {
    if (!reached.has(i) && problems.length === before) {
      problems.push(siteProblem(e, `the value of ${e.site.expression} does not reach any manifest (it stands in a YAML comment, tag or anchor); remove it`));
    }
  });
  return objects;
}

function siteProblem(e: Emitted, message: string): Problem {
  return { file: e.site.template, line: e.site.line, column: e.site.column, message };
}

/** A YAML error, with the rendered line shown as the template wrote it (tokens as `{{expr}}`). */
function yamlProblem(file: string, err: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }, lines: string[], emitted: Emitted[]): Problem {
  const pos = err.linePos?.[0];
  const reason = err.message.split(" at line ")[0].split("\n")[0];
  if (!pos) return { file, message: `output is not valid YAML: ${reason}` };
  const shown = (lines[pos.line - 1] ?? "").replace(TOKEN_PATTERN, (_, i) => emitted[Number(i)]?.site.expression ?? "?");
  // Where a token stands on the failing line, its template position is exact.
  const token = new RegExp(TOKEN_PATTERN.source).exec(lines[pos.line - 1] ?? "");
  const site = token ? emitted[Number(token[1])]?.site : undefined;
  return {
    file,
    line: site?.line ?? pos.line,
    column: site ? undefined : pos.col,
    message: `output is not valid YAML (rendered line ${pos.line}: ${JSON.stringify(shown.trim().slice(0, 100))}): ${reason}`,
  };
}

/** The 1-based line of a parsed node in the rendered text. */
function lineOf(text: string, node: { range?: [number, number, number] | null } | null): number | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : text.slice(0, offset).split("\n").length;
}

/** Where a value was placed in the object: its path, and the secrets it carries. */
interface Placement {
  path: (string | number)[];
  emitted: Emitted;
}

/**
 * Replaces every token in the parsed document with its value. A plain scalar that is exactly one
 * token takes the value with its type (a number stays a number, an object becomes a mapping);
 * a token inside a longer or quoted scalar is put in as text. A token may not be a mapping key.
 */
function insertValues(doc: Document, emitted: Emitted[], reached: Set<number>, file: string, problems: Problem[]): Placement[] {
  const placements: Placement[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (typeof node.value !== "string" || !node.value.includes("GMv9x")) return undefined;
      const indexes = [...node.value.matchAll(TOKEN_PATTERN)].map((m) => Number(m[1]));
      indexes.forEach((i) => reached.add(i));
      if (key === "key") {
        for (const i of indexes) problems.push(siteProblem(emitted[i], `${emitted[i].site.expression} stands in a mapping key; a parameter may only be a value`));
        return undefined;
      }
      const path = pathOf(ancestors, node);
      for (const i of indexes) placements.push({ path, emitted: emitted[i] });
      const whole = indexes.length === 1 && node.type === "PLAIN" && node.value === `GMv9x${indexes[0]}xGM`;
      if (whole) return doc.createNode(emitted[indexes[0]].value);
      const text = node.value.replace(TOKEN_PATTERN, (_, i) => asText(emitted[Number(i)], problems));
      const replaced = new Scalar(text);
      return replaced;
    },
  });
  return placements;
}

function asText(e: Emitted, problems: Problem[]): string {
  const v = e.value;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  problems.push(siteProblem(e, `${e.site.expression} is ${v === null ? "null" : Array.isArray(v) ? "a list" : "an object"}; only a whole value (not part of a text) can be one`));
  return "";
}

function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  let child = node;
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const a = ancestors[i];
    if (isPair(a)) {
      if (a.value === child) path.unshift(isScalar(a.key) ? String(a.key.value) : "?");
    } else if (isSeq(a)) {
      path.unshift(a.items.indexOf(child as Node));
    }
    if (isMap(a) || isSeq(a) || isPair(a)) child = a;
  }
  return path;
}

function checkObjectShape(o: unknown): string | undefined {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)";
  const obj = o as Record<string, unknown>;
  const missing = ["apiVersion", "kind"].filter((k) => typeof obj[k] !== "string" || obj[k] === "");
  const meta = obj.metadata as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== "object" || typeof meta.name !== "string" || meta.name === "") missing.push("metadata.name");
  return missing.length ? `expected a Kubernetes object; missing ${missing.join(", ")}` : undefined;
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
