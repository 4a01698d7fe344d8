// The library entry point: `import { generate } from "gen-manifests"`. Renders in memory and
// writes nothing.
import path from "node:path";
import { placingProblems } from "./errors";
import { maskSecrets } from "./mask-secrets";
import { runPipeline } from "./pipeline";
import { readInputs } from "./read-inputs";
import type { KubeObject, PlacedManifest, Plan } from "./types";

export { GenError, formatProblem } from "./errors";
export type { Problem } from "./errors";
export type { KubeObject, PlacedManifest, Plan, PlanStep } from "./types";
export { PHASES } from "./phases";

export interface GenerateOptions {
  /** Parameters files, later ones overriding earlier ones key by key. */
  params: string | string[];
  /** `name=value` overrides, typed by the schema. */
  set?: string[];
  templatesDir?: string;
  schemaFile?: string;
  /** Working folder that relative paths are taken from. */
  cwd?: string;
  /** The Kubernetes version the objects are for, `1.32` by default. */
  kubeVersion?: string;
}

export interface GenerateResult {
  objects: KubeObject[];
  manifests: PlacedManifest[];
  plan: Plan;
  /** The files the CLI would write, by folder: name → content. */
  files: Record<string, Record<string, string>>;
}

export function generate(options: GenerateOptions): GenerateResult {
  const cwd = options.cwd ?? process.cwd();
  const inputs = readInputs({ params: ([] as string[]).concat(options.params), templatesDir: options.templatesDir, schemaFile: options.schemaFile }, cwd);
  const secretValues = new Set<string>();
  const result = placingProblems(
    () =>
      runPipeline({
        paramsFiles: inputs.paramsFiles,
        sets: options.set ?? [],
        schema: inputs.schema,
        schemaFile: inputs.schemaFile,
        templates: inputs.templates,
        outDir: path.join(cwd, "out"),
        secretsDir: path.join(cwd, "secrets"),
        inlineSecrets: false,
        secretValues,
        kubeVersion: options.kubeVersion,
      }),
    // A program may print the error: it goes through the CLI's masking too.
    (problems) => problems.map((p) => ({ ...p, message: maskSecrets(p.message, secretValues) })),
  );
  const files: GenerateResult["files"] = {};
  for (const tree of [result.trees.out, result.trees.secrets]) {
    if (tree) files[path.basename(tree.dir)] = Object.fromEntries([...tree.files].map(([n, f]) => [n, f.content]));
  }
  return { objects: result.manifests.map((m) => m.object), manifests: result.manifests, plan: result.plan, files };
}
