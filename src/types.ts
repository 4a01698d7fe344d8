// The data that flows between the stages of the pipeline.
import type { Phase } from "./phases";

export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };
export type ParamValues = Record<string, ParamValue>;

/** A file read at the edge of the pipeline: its path as the user named it, and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

/** One parameters file, parsed and normalised to name → value. */
export interface ParamLayer {
  /** The file, or `--set`, that supplied these values. */
  origin: string;
  values: ParamValues;
}

/** The parameters after merging, deriving and validating. */
export interface Params {
  values: ParamValues;
  /** For each parameter, what supplied it: a file, `--set`, `default`, `derived from x`. */
  origin: Record<string, string>;
  /** Names of the parameters the schema marks secret (`writeOnly: true`). */
  secretNames: Set<string>;
  /** Names in the parameters files that the schema does not declare and that are near no declared one: ignored. */
  ignored?: { name: string; file: string }[];
}

/** The subset of JSON Schema 2020-12 the compiler reads itself; ajv reads the rest. */
export interface ParamSchema {
  $schema?: string;
  type?: string | string[];
  properties?: Record<string, ParamSchema>;
  required?: string[];
  writeOnly?: boolean;
  default?: ParamValue;
  description?: string;
  [keyword: string]: unknown;
}

export interface TemplateFile extends SourceFile {
  /** Path relative to the templates folder, with forward slashes. */
  name: string;
  /** `<templates folder name>/<name>`: stable wherever the command runs, for output comments. */
  source: string;
  /** `_*.hbs` files are partials: included by others, never emitted. */
  isPartial: boolean;
}

/** One place in a template where a value is printed (`{{x}}`). */
export interface EmitSite {
  template: string;
  line: number;
  column: number;
  /** The expression as written, e.g. `keystone_db_uri` or `image "keystone"`. */
  expression: string;
}

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
};

/** One object rendered from a template, remembering where it came from. */
export interface RenderedObject {
  object: KubeObject;
  /** The template as the user named it, for messages. */
  template: string;
  /** The template relative to the templates folder's parent, e.g. kubernetes-in/keystone.yaml.hbs: the same wherever the command runs. */
  source: string;
  /** 1-based position of the YAML document in the template's output. */
  document: number;
  phaseOverride?: Phase;
  /** The name the file is called by, when the object's own name carries a hash (jobs). */
  fileStem?: string;
}

/** A rendered object with its phase and the file it is written to. */
export interface PlacedManifest extends RenderedObject {
  phase: Phase;
  fileName: string;
  /** Secrets go to the secrets folder unless they are inlined. */
  isSecret: boolean;
}

export interface PlanStep {
  phase: Phase;
  apply: PlacedManifest[];
  /** One-shot objects to wait for before the next phase. */
  waitFor: PlacedManifest[];
}

export interface Plan {
  steps: PlanStep[];
  /** Workloads whose rollout is waited for at the end. */
  rollouts: PlacedManifest[];
}

/**
 * One file to write. A manifest's content is serialized when it is first read: a large folder's
 * files are then serialized one by one while the last ones are being written.
 */
export interface OutputFile {
  readonly content: string;
  mode: number;
}

/** The bytes to write into one output folder. */
export interface OutputTree {
  dir: string;
  /** file name → content; mode 0600 for secrets, 0644 otherwise (0755 for scripts). */
  files: Map<string, OutputFile>;
  /** Mode of the folder itself. */
  dirMode: number;
}

export interface FileChange {
  file: string;
  change: "added" | "changed" | "removed";
}
