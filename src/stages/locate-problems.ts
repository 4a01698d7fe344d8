// Gives a problem found in a rendered object the template line that wrote the field: the object's
// template is rendered again, traced, and the field found in its YAML. It runs only after a check
// has failed, so a successful run never pays for it.
import type { Node as YamlNode } from "yaml";
import type { Problem } from "../errors";
import { describeObject as describe } from "../object-name";
import { fieldOffset, yamlLib } from "../yaml-place";
import type { KubeObject, Params, RenderedObject } from "../types";
import type { TemplateSet } from "./compile-templates";
import type { CompiledTemplate } from "../template-runtime";
import type { SourcePlace, TracedText } from "../value-tokens";

/** The field of a rendered object a problem is about. */
export interface ObjectPlace {
  object: RenderedObject;
  /** The field's path; when its last name is missing from the object, the mapping that lacks it. */
  path: (string | number)[];
  /** The field's name, not its value, is the mistake (an unknown field). */
  key?: boolean;
  /** What is wrong, without the object and path: the same mistake in many objects is listed once. */
  detail: string;
}

/** A check's problem, with the field it is about when there is one. */
export type ObjectProblem = Problem & { place?: ObjectPlace };

interface TracedDocuments {
  traced: TracedText;
  /** The non-empty documents, as the render stage counted them. */
  documents: (YamlNode | null)[];
}

export function locateProblems(problems: ObjectProblem[], set: TemplateSet, params: Params): Problem[] {
  const byTemplate = new Map<string, TracedDocuments | undefined>();
  const documentsOf = (template: string): TracedDocuments | undefined => {
    if (!byTemplate.has(template)) byTemplate.set(template, traceDocuments(set, template, params));
    return byTemplate.get(template);
  };
  // One mistake in a partial shows in every object that includes it: it is listed once, at its line.
  const groups = new Map<string, { problem: Problem; objects: string[] }>();
  for (const { place, ...problem } of problems) {
    const found = place && documentsOf(place.object.template);
    const root = found?.documents[place!.object.document - 1];
    const offset = root ? fieldOffset(root, place!.path, place!.key ?? false) : undefined;
    const at = offset === undefined ? undefined : found!.traced.placeAt(offset);
    const located = at ? withPlace(problem, at, place!.object.template) : problem;
    const key = at ? `${at.file}:${at.line}:${at.column}\0${place!.detail}` : `\0${located.message}`;
    const group = groups.get(key);
    if (!group) groups.set(key, { problem: located, objects: [describeObject(place?.object.object)] });
    else group.objects.push(describeObject(place?.object.object));
  }
  return [...groups.values()].map(({ problem, objects }) => (objects.length === 1 ? problem : { ...problem, message: `${problem.message}; the same in ${sameIn(objects.slice(1))}` }));
}

/** `2 more places (in Deployment a and Job b)` */
function sameIn(objects: string[]): string {
  const distinct = [...new Set(objects)];
  const shown = distinct.length > 3 ? `${distinct.slice(0, 3).join(", ")} and ${distinct.length - 3} more` : distinct.join(", ").replace(/, ([^,]*)$/, " and $1");
  return `${objects.length} more place${objects.length === 1 ? "" : "s"} (in ${shown})`;
}

/** The problem at a template place; text that a partial wrote names the template that included it. */
export function withPlace(problem: Problem, at: SourcePlace, template: string): Problem {
  const message = at.file === template ? problem.message : `${problem.message} (via ${template})`;
  return { file: at.file, line: at.line, column: at.column, message };
}

/** The template place where a rendered document starts: for problems with a whole document. */
export function documentPlace(template: CompiledTemplate, params: Params, index: number): SourcePlace | undefined {
  const found = traceTemplateDocuments(template, params);
  const offset = found?.documents[index - 1]?.range?.[0];
  return offset === undefined ? undefined : found!.traced.placeAt(offset);
}

function traceDocuments(set: TemplateSet, template: string, params: Params): TracedDocuments | undefined {
  const compiled = set.templates.find((t) => t.file.path === template);
  return compiled && traceTemplateDocuments(compiled, params);
}

function traceTemplateDocuments(compiled: CompiledTemplate, params: Params): TracedDocuments | undefined {
  try {
    const traced = compiled.trace(params.values, params.secretNames);
    const { isScalar, parseAllDocuments } = yamlLib();
    const all = parseAllDocuments(traced.text);
    if (!Array.isArray(all)) return undefined;
    // As the render stage does: a document of nothing, or of only `~`, is no object.
    const documents = all.map((d) => d.contents).filter((c) => c !== null && !(isScalar(c) && c.value === null));
    return { traced, documents };
  } catch {
    return undefined; // the problem keeps its template and field path
  }
}

const describeObject = (o: KubeObject | undefined): string => (o ? describe(o) : "");
