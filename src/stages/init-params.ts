// Creates a complete new parameters file without Heat: every secret freshly generated as the
// seed's Heat template did (letters and digits), database URIs assembled from a database host,
// defaults filled in, and operator-supplied values given or left as placeholders that validation
// refuses until they are filled. Pure: the random source is passed in; the CLI writes the file.
import { randomInt } from "node:crypto";
import { dumpYaml } from "../kube-yaml";
import { DERIVATIONS } from "./derive-params";
import type { ParamSchema, ParamValue } from "../types";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** Validation refuses any value that starts with this (see the schema's patternProperties). */
export const PLACEHOLDER = "<fill in";

type Generate = { length?: number; databaseUri?: { user: string; database: string; passwordLength: number } };

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
    else if (gen?.length) values[name] = randomSecret(gen.length, input.pick);
    else if (gen?.databaseUri) {
      const { user, database, passwordLength } = gen.databaseUri;
      values[name] = `mysql+mysqlconnector://${user}:${randomSecret(passwordLength, input.pick)}@${host}/${database}?charset=utf8`;
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
