// Creates a complete new parameters file without Heat: every secret freshly generated as the
// seed's Heat template did (letters and digits), database URIs assembled from a database host,
// defaults filled in, and operator-supplied values given or left as placeholders that validation
// refuses until they are filled. Pure: the random source is passed in; the CLI writes the file.
import { randomInt } from "node:crypto";
import { GenError } from "../errors";
import { dumpYaml } from "../kube-yaml";
import { DERIVATIONS } from "./derive-params";
import type { ParamSchema, ParamValue } from "../types";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** Validation refuses any value that starts with this (see the schema's patternProperties). */
export const PLACEHOLDER = "<fill in";

type Generate = { length?: number; suffix?: string; databaseUri?: { user: string; database: string; passwordLength: number } };

export function randomSecret(length: number, pick: (n: number) => number = randomInt): string {
  let s = "";
  for (let i = 0; i < length; i++) s += ALPHABET[pick(ALPHABET.length)];
  return s;
}

export interface InitParamsInput {
  schema: ParamSchema;
  /** Values the operator gave as flags, by parameter name. */
  supplied: Record<string, string>;
  pick?: (n: number) => number;
}

export interface InitParamsResult {
  values: Record<string, ParamValue>;
  /** Parameters left as placeholders, for the CLI to name. */
  placeholders: string[];
}

export function initParams(input: InitParamsInput): InitParamsResult {
  const props = input.schema.properties ?? {};
  const derived = new Set(DERIVATIONS.map((d) => d.name));
  const values: Record<string, ParamValue> = {};
  const placeholders: string[] = [];
  // The database URIs are built from the host (the CLI requires --database-host).
  const host = input.supplied.database_host ?? "";
  for (const [name, prop] of Object.entries(props)) {
    const gen = prop["x-generate"] as Generate | undefined;
    if (input.supplied[name] !== undefined) values[name] = input.supplied[name];
    else if (gen?.length) values[name] = randomSecret(gen.length, input.pick) + (gen.suffix ?? "");
    else if (gen?.databaseUri) {
      const { user, database, passwordLength } = gen.databaseUri;
      values[name] = `mysql+pymysql://${user}:${randomSecret(passwordLength, input.pick)}@${host}/${database}?charset=utf8`;
    } else if (prop.default !== undefined) values[name] = prop.default;
    else if (!derived.has(name)) {
      values[name] = `${PLACEHOLDER}: ${prop.description ?? name}>`;
      placeholders.push(name);
    }
  }
  return { values, placeholders };
}

/** YAML with a header that says what the file is and how to treat it. */
export function formatParamsFile(result: InitParamsResult, asJson: boolean): string {
  if (asJson) return `${JSON.stringify(result.values, null, 2)}\n`;
  const header = [
    "# Parameters for gen-manifests, created by `gen-manifests init-params`.",
    "# It holds freshly generated secrets: keep it out of version control, or encrypt it.",
    result.placeholders.length ? `# Fill in before use: ${result.placeholders.join(", ")}.` : "# Complete: every value is set.",
  ];
  return `${header.join("\n")}\n${dumpYaml(result.values)}`;
}

export interface UpgradeParamsInput {
  schema: ParamSchema;
  /** The parameters file as it is: its path (for messages) and text. */
  file: { path: string; text: string };
  pick?: (n: number) => number;
}

export interface UpgradeParamsResult {
  /** The file's new text: its own values kept, comments and order too (YAML), new ones at the end. */
  text: string;
  /** Parameters added, with freshly generated secrets. */
  added: string[];
  /** Values rewritten in place: seed-era database URIs moved to the PyMySQL driver. */
  rewritten: string[];
  /** Required parameters still missing, which nothing can generate (for the operator to add). */
  missing: string[];
}

/** A seed-era URI: mysqlconnector is not in the images, PyMySQL is; user, password, host and database stay. */
const SEED_DRIVER = /^mysql\+mysqlconnector:\/\//;

/**
 * Adds to an existing parameters file what the schema now requires and can generate (new secrets),
 * keeping every value it has; rewrites a seed-era database URI's driver. A Heat stack's output is
 * refused: update the stack with params/heat-setup.yaml instead.
 */
export function upgradeParams(input: UpgradeParamsInput): UpgradeParamsResult {
  const { parseDocument, isMap } = require("yaml") as typeof import("yaml");
  const text = input.file.text.replace(/^\uFEFF/, "");
  const asJson = /^\s*\{/.test(text);
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length || !isMap(doc.contents)) {
    throw new GenError("load-params", [{ file: input.file.path, message: "is not a mapping of parameter names to values (YAML or JSON); init-params --upgrade reads a parameters file" }]);
  }
  const existing = doc.toJS() as Record<string, unknown>;
  if (Array.isArray(existing.outputs) || "stack" in existing || "stack_status" in existing) {
    throw new GenError("load-params", [{ file: input.file.path, message: "is a Heat stack's output: update the stack with the new params/heat-setup.yaml (openstack stack update), which generates the new secrets" }]);
  }
  // A new database URI is assembled on the file's own database host, with a fresh password.
  const host = typeof existing.database_host === "string" && existing.database_host !== "" ? existing.database_host : undefined;
  const fresh = initParams({ schema: input.schema, supplied: host ? { database_host: host } : {}, pick: input.pick }).values;
  const props = input.schema.properties ?? {};
  const added: string[] = [];
  const rewritten: string[] = [];
  const missing: string[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const value = existing[name];
    if (value === undefined) {
      const gen = prop["x-generate"] as Generate | undefined;
      if (gen !== undefined && (!gen.databaseUri || host !== undefined)) {
        existing[name] = fresh[name];
        added.push(name);
      } else if ((input.schema.required ?? []).includes(name) && !DERIVATIONS.some((d) => d.name === name)) missing.push(name);
    } else if (typeof value === "string" && SEED_DRIVER.test(value)) {
      existing[name] = value.replace(SEED_DRIVER, "mysql+pymysql://");
      rewritten.push(name);
    }
  }
  if (asJson) return { text: `${JSON.stringify(existing, null, 2)}\n`, added, rewritten, missing };
  for (const name of [...added, ...rewritten]) doc.set(name, existing[name]);
  return { text: doc.toString(), added, rewritten, missing };
}
