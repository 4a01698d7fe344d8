// Validates the merged parameters against params/schema.json (JSON Schema 2020-12) and fills in
// defaults. Every problem is reported at once, each naming the file that supplied the value.
// No message ever carries a value: ajv's messages describe the schema, not the data.
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020";
import { closestName } from "../closest-name";
import { INEXACT_PARAMETER_MESSAGE, writesBackAs } from "../exact-integer";
import { cacheKey, CompileCache, loadModuleCode, NO_CACHE } from "../compile-cache";
import { GenError, Problem, pointerSegment } from "../errors";
import type { ParamLayer, ParamSchema, Params, ParamValue, ParamValues } from "../types";
import { DERIVATIONS, deriveParams } from "./derive-params";

export function secretParamNames(schema: ParamSchema): Set<string> {
  return new Set(Object.entries(schema.properties ?? {}).filter(([, s]) => s.writeOnly === true).map(([name]) => name));
}

/** The non-empty string values of the secret parameters: what no output may ever show. */
export function secretValuesOf(values: Record<string, unknown>, names: Set<string>): string[] {
  return [...names].map((n) => values[n]).filter((v): v is string => typeof v === "string" && v !== "");
}

/** Checks that the schema itself is usable, so a broken schema is not blamed on the params. */
export function checkSchema(schema: unknown, file: string): ParamSchema {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    throw new GenError("validate-params", [{ file, message: "expected a JSON Schema object" }]);
  }
  const s = schema as ParamSchema;
  if (s.type !== "object" || typeof s.properties !== "object") {
    throw new GenError("validate-params", [{ file, message: 'expected a schema with "type": "object" and "properties"' }]);
  }
  return s;
}

/**
 * `--set name=value` flags as one more layer. The value is typed by the schema, not guessed
 * (Helm's `--set` turns `0123` into a number; here a string parameter stays a string).
 */
export function parseSetFlags(sets: string[], schema: ParamSchema): ParamLayer {
  const problems: Problem[] = [];
  const values: ParamValues = {};
  for (const set of sets) {
    const eq = set.indexOf("=");
    if (eq <= 0) {
      problems.push({ message: `--set ${eq === 0 ? "needs a name before '='" : `"${set.split(/\s/)[0].slice(0, 60)}" needs the form name=value`}` });
      continue;
    }
    const name = set.slice(0, eq);
    const raw = set.slice(eq + 1);
    const prop = schema.properties?.[name];
    if (!prop) {
      const hint = closestName(name, Object.keys(schema.properties ?? {}));
      problems.push({ message: `--set ${name}: not a declared parameter${hint ? ` (did you mean ${hint}?)` : ""}` });
      continue;
    }
    const typed = typeSetValue(raw, prop);
    if (typed.error) problems.push({ message: `--set ${name}: ${typed.error}` });
    else values[name] = typed.value as ParamValue;
  }
  if (problems.length) throw new GenError("usage", problems, 2);
  return { origin: "--set", values };
}

function typeSetValue(raw: string, prop: ParamSchema): { value?: ParamValue; error?: string } {
  const types = Array.isArray(prop.type) ? prop.type : [prop.type ?? "string"];
  if (types.includes("string")) return { value: raw };
  if (/^-?\d+$/.test(raw) && (types.includes("integer") || types.includes("number"))) {
    const n = Number(raw);
    return writesBackAs(n, BigInt(raw)) ? { value: n } : { error: INEXACT_PARAMETER_MESSAGE };
  }
  if (types.includes("number") && raw.trim() !== "" && Number.isFinite(Number(raw))) return { value: Number(raw) };
  if (types.includes("boolean") && (raw === "true" || raw === "false")) return { value: raw === "true" };
  if (types.includes("object") || types.includes("array")) {
    try {
      return { value: JSON.parse(raw) };
    } catch {
      return { error: `expected JSON for a parameter of type ${types.join(" or ")}` };
    }
  }
  return { error: `expected a value of type ${types.join(" or ")}` };
}

/** The declared name nearest to a mistyped one, for "did you mean". */

export interface ValidateParamsInput {
  values: ParamValues;
  origin: Record<string, string>;
  schema: ParamSchema;
  schemaFile: string;
  /** Named in problems about missing parameters: the files the user gave. */
  sources: string[];
  cache?: CompileCache;
}

const AJV_VERSION = (require("ajv/package.json") as { version: string }).version;

/** What ajv's standalone code requires, from the bundle (loaded with its code cache) rather than from node_modules. */
const AJV_RUNTIME: Record<string, () => unknown> = {
  "./param-formats": () => require("../param-formats"),
  "ajv/dist/runtime/equal": () => require("ajv/dist/runtime/equal"),
  "ajv/dist/runtime/ucs2length": () => require("ajv/dist/runtime/ucs2length"),
  "ajv/dist/runtime/uri": () => require("ajv/dist/runtime/uri"),
  "ajv/dist/runtime/validation_error": () => require("ajv/dist/runtime/validation_error"),
};
const requireAjvRuntime = (id: string): unknown => (AJV_RUNTIME[id] ?? (() => require(id)))();

interface SchemaValidator {
  validate: ValidateFunction;
  /** Keeps V8's compiled code of a cached validator, once it has run. */
  keepCompiled(): void;
}

/** The schema's validator: ajv's standalone code from the cache, or compiled and cached. */
function schemaValidator(schema: ParamSchema, schemaFile: string, cache: CompileCache): SchemaValidator {
  const key = cacheKey("params-validator-v3", AJV_VERSION, JSON.stringify(schema));
  const cached = cache.get(key);
  if (cached) {
    try {
      const loaded = loadModuleCode(cached, { require: requireAjvRuntime, cache, key, filename: "params-validator.js" });
      return { validate: loaded.exports as ValidateFunction, keepCompiled: loaded.keepCompiled };
    } catch {
      // A damaged entry: compile afresh below.
    }
  }
  // The compiler is loaded only on a miss: a cached validator needs only ajv's small runtime.
  const { default: Ajv2020 } = require("ajv/dist/2020") as typeof import("ajv/dist/2020");
  const { _ } = require("ajv") as typeof import("ajv");
  const { default: standaloneCode } = require("ajv/dist/standalone") as typeof import("ajv/dist/standalone");
  const { default: addFormats } = require("ajv-formats") as typeof import("ajv-formats");
  const { uri } = require("../param-formats") as typeof import("../param-formats");
  // Each $ref a function of its own, not its target's code inlined at every use, and no
  // optimizing passes: a schema of shared definitions then compiles in half the time, to less
  // than half the code (226 → 96 kB for the shipped set), which every run loads.
  const ajv = new Ajv2020({
    allErrors: true,
    useDefaults: true,
    strict: false,
    messages: true,
    inlineRefs: false,
    code: { source: true, optimize: false, formats: _`require("./param-formats").paramFormats` },
  });
  addFormats(ajv);
  ajv.addFormat("uri", uri);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    throw new GenError("validate-params", [{ file: schemaFile, message: `is not a valid JSON Schema: ${(e as Error).message}` }]);
  }
  cache.set(key, standaloneCode(ajv, validate));
  return { validate, keepCompiled: () => undefined };
}

export function validateParams(input: ValidateParamsInput): Params {
  const derived = deriveParams(input.values, input.origin);
  const values = structuredClone(derived.values);
  const origin = { ...derived.origin };
  const declared = input.schema.properties ?? {};
  for (const name of Object.keys(declared)) {
    if (values[name] === undefined && declared[name].default !== undefined) origin[name] = "default";
  }

  const { validate, keepCompiled } = schemaValidator(input.schema, input.schemaFile, input.cache ?? NO_CACHE);
  const valid = validate(values);
  keepCompiled();
  if (!valid) {
    const sources = input.sources.length ? input.sources.join(", ") : "parameters";
    const problems = (validate.errors ?? []).map((e) => describeSchemaError(e, origin, sources, values));
    throw new GenError("validate-params", listMissing(problems, sources));
  }
  return { values, origin, secretNames: secretParamNames(input.schema) };
}

const MISSING = "required parameter is missing";

/**
 * Two or more parameters missing (a file made before a newer schema): one problem that lists them
 * all, and says how to add them. A derived parameter's own message stays as it is.
 */
function listMissing(problems: Problem[], sources: string): Problem[] {
  const missing = problems.filter((p) => p.message === MISSING && p.pointer?.split("/").length === 2);
  if (missing.length < 2) return problems;
  const names = missing.map((p) => p.pointer!.slice(1));
  const files = [...new Set(missing.map((p) => p.file ?? sources))].join(", ");
  const listed: Problem = {
    file: files,
    message: `${names.length} required parameters are missing: ${names.join(", ")}. Add them; \`gen-manifests init-params --upgrade FILE\` adds those it can generate (new secrets), keeping every value FILE has`,
  };
  return [listed, ...problems.filter((p) => !missing.includes(p))];
}

function describeSchemaError(e: ErrorObject, origin: Record<string, string>, sources: string, values: ParamValues): Problem {
  let pointer = e.instancePath;
  let message = e.message ?? "is invalid";
  if (e.keyword === "required") {
    pointer += `/${pointerSegment(e.params.missingProperty)}`;
    message = MISSING;
    // A derived parameter is missing because its source did not have the shape it is derived from.
    const derivation = pointer.split("/").length === 2 ? DERIVATIONS.find((d) => d.name === e.params.missingProperty) : undefined;
    if (derivation && typeof values[derivation.from] === "string") {
      message += `: it is derived from ${derivation.from}, which is not ${derivation.expects}; set it, or correct ${derivation.from}`;
    }
  } else if (e.keyword === "type") {
    message = `must be ${e.params.type === "integer" ? "an integer" : `of type ${e.params.type}`}`;
  } else if (e.keyword === "not" && e.schemaPath.startsWith("#/patternProperties")) {
    message = "is still a placeholder from init-params; fill it in";
  } else if (e.keyword === "pattern" && /^\/[a-z]+_db_uri$/.test(pointer) && /^mysql\+mysqlconnector:/.test(String(values[pointer.slice(1)]))) {
    message = "uses the seed's mysql+mysqlconnector:// driver, which the images do not hold: write mysql+pymysql:// (`gen-manifests init-params --upgrade FILE` rewrites it, keeping the rest)";
  } else if (e.keyword === "enum") {
    message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  const top = decodeURIComponent(pointer.split("/")[1] ?? "").replace(/~1/g, "/").replace(/~0/g, "~");
  const file = (top && origin[top]) || sources;
  return { file, pointer, message };
}

