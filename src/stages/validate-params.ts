// Validates the merged parameters against params/schema.json (JSON Schema 2020-12) and fills in
// defaults. Every problem is reported at once, each naming the file that supplied the value.
// No message ever carries a value: ajv's messages describe the schema, not the data.
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020";
import { closestName } from "../closest-name";
import { INEXACT_PARAMETER_MESSAGE, writesBackAs } from "../exact-integer";
import { cacheKey, CompileCache, evaluateModule, NO_CACHE } from "../compile-cache";
import { GenError, Problem, pointerSegment } from "../errors";
import { checkValues, INHERITED_NAMES, inheritedNameMessage, readParamsDocument } from "./load-params";
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
 * (Helm's `--set` turns `0123` into a number; here a string parameter stays a string). A problem
 * names the argument by its number, and by the parameter only when it is a declared one: an
 * argument that is not `name=value` may be all value, and a value may be a secret.
 */
export function parseSetFlags(sets: string[], schema: ParamSchema): ParamLayer {
  const problems: Problem[] = [];
  const values: ParamValues = {};
  const declared = schema.properties ?? {};
  const names = Object.keys(declared);
  sets.forEach((set, i) => {
    const argument = `--set argument ${i + 1}`;
    const eq = set.indexOf("=");
    if (eq < 0) {
      // The longest declared name the argument starts with, then no more of a name: `name:value`, `name value`.
      const meant = names.filter((n) => set.startsWith(n) && !/^[\w.-]/.test(set.slice(n.length))).sort((a, b) => b.length - a.length)[0];
      problems.push({ message: `${argument}: expected name=value (not shown: it may hold a secret)${meant ? `; it starts with ${meant}: write ${meant}=VALUE` : ""}` });
      return;
    }
    if (eq === 0) {
      problems.push({ message: `${argument}: expected name=value, and there is no name before '='` });
      return;
    }
    const name = set.slice(0, eq);
    const raw = set.slice(eq + 1);
    if (INHERITED_NAMES.has(name)) {
      problems.push({ message: `${argument}: ${inheritedNameMessage(name)}` });
      return;
    }
    if (!Object.hasOwn(declared, name)) {
      const hint = closestName(name, names);
      problems.push({ message: `${argument}: the name is not a declared parameter${hint ? ` (did you mean ${hint}?)` : ""}` });
      return;
    }
    const typed = typeSetValue(raw, resolveRef(declared[name], schema), `${argument} (${name})`, name);
    if (typed.problems) problems.push(...typed.problems);
    else values[name] = typed.value as ParamValue;
  });
  if (problems.length) throw new GenError("usage", problems, 2);
  return { origin: "--set", values };
}

/** A property declared by `$ref` (`"$ref": "#/$defs/resources"`): the schema it points to, within this schema. */
function resolveRef(prop: ParamSchema, root: ParamSchema): ParamSchema {
  let resolved = prop;
  for (let hops = 0; hops < 16 && typeof resolved.$ref === "string" && resolved.$ref.startsWith("#"); hops++) {
    let target: unknown = root;
    for (const seg of resolved.$ref.slice(1).split("/").slice(1)) {
      const key = decodeURIComponent(seg).replace(/~1/g, "/").replace(/~0/g, "~");
      target = target !== null && typeof target === "object" && Object.hasOwn(target, key) ? (target as Record<string, unknown>)[key] : undefined;
    }
    if (target === null || typeof target !== "object") break;
    const { $ref: _followed, ...own } = resolved;
    resolved = { ...(target as ParamSchema), ...own, type: own.type ?? (target as ParamSchema).type };
  }
  return resolved;
}

function typeSetValue(raw: string, prop: ParamSchema, where: string, name: string): { value?: ParamValue; problems?: Problem[] } {
  const fail = (message: string) => ({ problems: [{ message: `${where}: ${message}` }] });
  const types = Array.isArray(prop.type) ? prop.type : [prop.type ?? "string"];
  if (types.includes("string")) return { value: raw };
  if (/^-?\d+$/.test(raw) && (types.includes("integer") || types.includes("number"))) {
    const n = Number(raw);
    return writesBackAs(n, BigInt(raw)) ? { value: n } : fail(INEXACT_PARAMETER_MESSAGE);
  }
  if (types.includes("number") && raw.trim() !== "" && Number.isFinite(Number(raw))) return { value: Number(raw) };
  if (types.includes("boolean") && (raw === "true" || raw === "false")) return { value: raw === "true" };
  if (types.includes("object") || types.includes("array")) {
    // A mapping or a list, written in JSON or YAML (`{"requests": {...}}`, `requests: {cpu: 1}`), read as a file is.
    if (raw.trim() === "") return fail(`the value is empty; expected a ${types.includes("object") ? "mapping" : "list"}, in JSON or YAML`);
    try {
      const value = readParamsDocument(raw, where, { flowYaml: true });
      checkValues({ [name]: value } as ParamValues, where);
      return { value: value as ParamValue };
    } catch (e) {
      if (!(e instanceof GenError)) throw e;
      return {
        problems: e.problems.map((p) => {
          const at = p.line === undefined ? "" : ` at line ${p.line}, column ${p.column}`;
          // Never the pointer: its keys are the value's text.
          return { message: `${where}: the value${at}${p.message.startsWith("is ") ? " " : ": "}${p.message}` };
        }),
      };
    }
  }
  return fail(`expected a value of type ${types.join(" or ")}`);
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

/** What ajv's standalone code requires, from the bundle rather than from node_modules. */
const AJV_RUNTIME: Record<string, () => unknown> = {
  "./param-formats": () => require("../param-formats"),
  "ajv/dist/runtime/equal": () => require("ajv/dist/runtime/equal"),
  "ajv/dist/runtime/ucs2length": () => require("ajv/dist/runtime/ucs2length"),
  "ajv/dist/runtime/uri": () => require("ajv/dist/runtime/uri"),
  "ajv/dist/runtime/validation_error": () => require("ajv/dist/runtime/validation_error"),
};
const requireAjvRuntime = (id: string): unknown => (AJV_RUNTIME[id] ?? (() => require(id)))();

/** The schema's validator: ajv's standalone code from the cache, or compiled and cached. */
function schemaValidator(schema: ParamSchema, schemaFile: string, cache: CompileCache): ValidateFunction {
  const key = cacheKey("params-validator-v4", AJV_VERSION, JSON.stringify(schema));
  const cached = cache.get(key);
  if (cached) {
    try {
      const validate = evaluateModule(cached, requireAjvRuntime, "params-validator.js");
      if (typeof validate === "function") return validate as ValidateFunction;
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
    // Each error carries the schema it failed (parentSchema): a pattern's description is read there.
    verbose: true,
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
  return validate;
}

export function validateParams(input: ValidateParamsInput): Params {
  const declared = input.schema.properties ?? {};
  const sources = input.sources.length ? input.sources.join(", ") : "parameters";
  const { mistyped, ignored } = undeclaredNames(input.values, input.origin, Object.keys(declared), sources);
  const derived = deriveParams(input.values, input.origin);
  const values = structuredClone(derived.values);
  const origin = { ...derived.origin };
  for (const name of Object.keys(declared)) {
    if (values[name] === undefined && declared[name].default !== undefined) origin[name] = "default";
  }

  const validate = schemaValidator(input.schema, input.schemaFile, input.cache ?? NO_CACHE);
  const valid = validate(values);
  if (!valid || mistyped.problems.length) {
    const problems = (validate.errors ?? []).map((e) => describeSchemaError(e, { origin, sources, values }));
    // One mistake, one message: a parameter missing because its name was mistyped is said by the typo.
    const owned = problems.filter((p) => !(p.message === MISSING && mistyped.meant.has(p.pointer!.slice(1))));
    const placed = [...mistyped.problems, ...foldDerived(owned, values, origin, sources, mistyped.meant)];
    throw new GenError("validate-params", listMissing(placed, sources));
  }
  return { values, origin, secretNames: secretParamNames(input.schema), ignored };
}

/**
 * Names the schema does not declare: one near a declared name is a typo, and an error ("did you
 * mean"); the others (a Heat stack's own outputs) are ignored, and listed for --verbose.
 */
function undeclaredNames(values: ParamValues, origin: Record<string, string>, names: string[], sources: string) {
  const problems: Problem[] = [];
  const meant = new Set<string>();
  const ignored: { name: string; file: string }[] = [];
  for (const name of Object.keys(values).filter((n) => !names.includes(n)).sort()) {
    const hint = closestName(name, names);
    const file = origin[name] ?? sources;
    if (hint === undefined) ignored.push({ name, file });
    else {
      meant.add(hint);
      problems.push({ file, pointer: `/${pointerSegment(name)}`, message: `is not a declared parameter (did you mean ${hint}?)` });
    }
  }
  return { mistyped: { problems, meant }, ignored };
}

/**
 * A derived parameter is missing when its source is: said once, at the source (missing, mistyped,
 * invalid, or without the shape it is derived from), naming what is derived from it.
 */
function foldDerived(problems: Problem[], values: ParamValues, origin: Record<string, string>, sources: string, meant: Set<string>): Problem[] {
  let kept = problems;
  for (const from of new Set(DERIVATIONS.map((d) => d.from))) {
    const derivations = DERIVATIONS.filter((d) => d.from === from);
    const isMissingDerived = (p: Problem): boolean => p.message === MISSING && derivations.some((d) => p.pointer === `/${pointerSegment(d.name)}`);
    const missing = derivations.filter((d) => kept.some((p) => isMissingDerived(p) && p.pointer === `/${pointerSegment(d.name)}`)).map((d) => d.name);
    if (!missing.length) continue;
    const derivedMissing = kept.filter(isMissingDerived);
    kept = kept.filter((p) => !isMissingDerived(p));
    if (meant.has(from)) continue;
    const names = missing.length === 1 ? `${missing[0]} is` : `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)} are`;
    const at = `/${pointerSegment(from)}`;
    const own = kept.find((p) => p.pointer === at);
    if (own) own.message += ` (${names} derived from it)`;
    else if (typeof values[from] === "string") {
      kept.push({ file: origin[from] ?? sources, pointer: at, message: `is not ${derivations[0].expects}, and ${names} derived from it; correct it, or set ${missing.length === 1 ? "it" : "them"}` });
    } else kept.push(...derivedMissing);
  }
  return kept;
}

const MISSING = "required parameter is missing";

/**
 * Two or more parameters missing (a file made before a newer schema): one problem that lists them
 * all, and says how to add them. A derived parameter's own message stays as it is.
 */
function listMissing(problems: Problem[], sources: string): Problem[] {
  const missing = problems.filter((p) => p.message.startsWith(MISSING) && p.pointer?.split("/").length === 2);
  if (missing.length < 2) return problems;
  const names = missing.map((p) => p.pointer!.slice(1));
  const files = [...new Set(missing.map((p) => p.file ?? sources))].join(", ");
  const listed: Problem = {
    file: files,
    message: `${names.length} required parameters are missing: ${names.join(", ")}. Add them; \`gen-manifests init-params --upgrade FILE\` adds those it can generate (new secrets), keeping every value FILE has`,
  };
  return [listed, ...problems.filter((p) => !missing.includes(p))];
}

/** What a schema error's message may draw on: never the value itself, only its type. */
interface ErrorContext {
  origin: Record<string, string>;
  sources: string;
  values: ParamValues;
}

/** The part of a JSON document at a JSON pointer (`/a/0/b`). */
function atPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = node !== null && typeof node === "object" && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/** How a pattern reads in words, from the schema's `x-pattern-description` beside it. */
const PATTERN_DESCRIPTION = "x-pattern-description";

function describeSchemaError(e: ErrorObject, { origin, sources, values }: ErrorContext): Problem {
  let pointer = e.instancePath;
  let message = e.message ?? "is invalid";
  if (e.keyword === "required") {
    pointer += `/${pointerSegment(e.params.missingProperty)}`;
    message = MISSING;
  } else if (e.keyword === "type") {
    message = `must be ${e.params.type === "integer" ? "an integer" : `of type ${e.params.type}`}`;
    // `image_tag: 2014.2`: YAML and JSON read it as a number, which also drops a trailing zero.
    const read = typeof atPointer(values, pointer);
    if (e.params.type === "string" && (read === "number" || read === "boolean")) {
      message += `, and was read as a ${read}: put it in quotes to keep it as written (unquoted, 2014.10 reads as 2014.1)`;
    }
  } else if (e.keyword === "not" && e.schemaPath.startsWith("#/patternProperties")) {
    message = "is still a placeholder from init-params; fill it in";
  } else if (e.keyword === "not" && /^#\/properties\/[^/]+\/not$/.test(e.schemaPath)) {
    // A parameter's refused values: the schema says why (never the value, which may be a secret).
    const why = ((e.parentSchema as ParamSchema | undefined)?.not as ParamSchema | undefined)?.description;
    if (why) message = `is refused: it ${why}`;
  } else if (e.keyword === "pattern" && /^\/[a-z]+_db_uri$/.test(pointer) && /^mysql\+mysqlconnector:/.test(String(values[pointer.slice(1)]))) {
    message = "uses the seed's mysql+mysqlconnector:// driver, which the images do not hold: write mysql+pymysql:// (`gen-manifests init-params --upgrade FILE` rewrites it, keeping the rest)";
  } else if (e.keyword === "pattern") {
    // The regular expression means little to an operator: the schema says in words what it asks for.
    const described = (e.parentSchema as Record<string, unknown> | undefined)?.[PATTERN_DESCRIPTION];
    message = typeof described === "string" ? `must be ${described}` : `does not have the form the schema asks for (its pattern has no ${PATTERN_DESCRIPTION})`;
  } else if (e.keyword === "enum") {
    message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  const top = decodeURIComponent(pointer.split("/")[1] ?? "").replace(/~1/g, "/").replace(/~0/g, "~");
  const file = (top && origin[top]) || sources;
  return { file, pointer, message };
}

