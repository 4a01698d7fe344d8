// Calls the stages in order. Everything is rendered and checked in memory; nothing is written here.
import { annotateForArgoCD } from "./stages/annotate-argocd";
import { annotateConfigChecksums } from "./stages/annotate-checksums";
import { placingProblems } from "./errors";
import { checkManifests } from "./stages/check-manifests";
import { locateProblems } from "./stages/locate-problems";
import { buildOutput, OutputTrees } from "./stages/build-output";
import { compileTemplates } from "./stages/compile-templates";
import { encodeSecretData } from "./stages/encode-secret-data";
import { mergeParamLayers, parseParamsFile, placeParamsProblems } from "./stages/load-params";
import { orderManifests } from "./stages/order-manifests";
import { nameJobsBySpec } from "./stages/name-jobs";
import { renderTemplates } from "./stages/render";
import { parseSetFlags, secretParamNames, secretValuesOf, validateParams } from "./stages/validate-params";
import type { CompileCache } from "./compile-cache";
import type { ParamSchema, Params, PlacedManifest, Plan, SourceFile, TemplateFile } from "./types";

export interface PipelineInput {
  paramsFiles: SourceFile[];
  sets: string[];
  schema: ParamSchema;
  schemaFile: string;
  templates: TemplateFile[];
  outDir: string;
  secretsDir: string;
  inlineSecrets: boolean;
  /** Annotate sync waves and hooks for Argo CD. */
  argocd?: boolean;
  /** Generated code kept between runs; none by default. */
  cache?: CompileCache;
  /** The Kubernetes version the objects are for (`1.32`); see check-manifests. */
  kubeVersion?: string;
  /** Filled with every secret value as soon as it is known, so the printer can mask it. */
  secretValues?: Set<string>;
}

export interface PipelineResult {
  params: Params;
  manifests: PlacedManifest[];
  plan: Plan;
  trees: OutputTrees;
  templateCount: number;
}

/**
 * What keys the config checksums (see annotate-checksums.ts): the secret parameters the schema
 * marks `x-checksum-key`, which change only when the operator means every checksum to change. A
 * schema without one keys them with every secret parameter's value: as safe, but then a change to
 * any secret rolls every workload that reads config.
 */
function checksumKey(params: Params, schema: ParamSchema): string {
  const marked = [...params.secretNames].filter((n) => schema.properties?.[n]?.["x-checksum-key"] === true);
  const names = marked.length ? marked : [...params.secretNames];
  return JSON.stringify(names.sort().map((n) => [n, params.values[n] ?? null]));
}

export function runPipeline(input: PipelineInput): PipelineResult {
  const layers = input.paramsFiles.map(parseParamsFile);
  if (input.sets.length) layers.push(parseSetFlags(input.sets, input.schema));
  const merged = mergeParamLayers(layers);
  for (const v of secretValuesOf(merged.values, secretParamNames(input.schema))) input.secretValues?.add(v);
  const params = placingProblems(
    () => validateParams({ ...merged, schema: input.schema, schemaFile: input.schemaFile, sources: input.paramsFiles.map((f) => f.path), cache: input.cache }),
    (problems) => placeParamsProblems(problems, input.paramsFiles),
  );
  const templateSet = compileTemplates({ files: input.templates, schema: input.schema, cache: input.cache });
  const templateCount = templateSet.templates.length;
  const objects = renderTemplates(templateSet, params, { once: true });
  placingProblems(() => checkManifests(objects, { kubeVersion: input.kubeVersion }), (problems) => locateProblems(problems, templateSet, params));
  const named = nameJobsBySpec(annotateConfigChecksums(encodeSecretData(objects), checksumKey(params, input.schema)), { hooks: input.argocd });
  const { manifests, plan } = orderManifests(input.argocd ? annotateForArgoCD(named) : named);
  const trees = buildOutput({ manifests, plan, outDir: input.outDir, secretsDir: input.secretsDir, inlineSecrets: input.inlineSecrets });
  return { params, manifests, plan, trees, templateCount };
}
