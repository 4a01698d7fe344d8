// Parses parameters files in every shape an operator has on disk and normalises them to a plain
// name → value object. Pure: the CLI reads the files and hands over their text.
import yaml from "js-yaml";
import type { ParseError } from "jsonc-parser";
import { GenError, placingProblems, Problem, pointerSegment } from "../errors";
import { INEXACT_PARAMETER_MESSAGE, writesBackAs } from "../exact-integer";
import type { ParamLayer, ParamValues, SourceFile } from "../types";
import { fieldOffset, keyText, mapValue, yamlLib } from "../yaml-place";
import type { Node as YamlNode } from "yaml";

/** Larger files are refused with a clear error instead of exhausting memory. */
export const MAX_PARAMS_BYTES = 8 * 1024 * 1024;
/** Parameters are flat or shallow; anything deeper is refused before any recursion. */
export const MAX_PARAMS_DEPTH = 64;

export function parseParamsFile(file: SourceFile): ParamLayer {
  const fail = (message: string, where: Partial<Problem> = {}): never => {
    throw new GenError("load-params", [{ file: file.path, ...where, message }]);
  };
  if (Buffer.byteLength(file.text) > MAX_PARAMS_BYTES) {
    fail(`is ${(Buffer.byteLength(file.text) / 1e6).toFixed(1)} MB; a parameters file may be at most ${MAX_PARAMS_BYTES / 1024 / 1024} MiB`);
  }
  if (file.text.trim() === "") fail("is empty; expected an object of parameter names and values");
  if (exceedsDepth(file.text)) fail(`is nested more than ${MAX_PARAMS_DEPTH} levels deep; expected an object of parameter names and values`);

  const doc = parseDocument(file);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    fail(`expected an object of parameter names and values, got ${describe(doc)}`);
  }
  const values = placingProblems(() => normaliseShape(doc as Record<string, unknown>, file.path), (problems) => placeParamsProblems(problems, [file]));
  if (holdsLargeNumber(values)) {
    const problems = inexactIntegers(file, doc as Record<string, unknown>);
    if (problems.length) throw new GenError("load-params", placeParamsProblems(problems, [file]));
  }
  return { origin: file.path, values };
}

/** Whether a value holds a number beyond 2^53 − 1: the rare case that needs the file read again. */
function holdsLargeNumber(v: unknown): boolean {
  if (typeof v === "number") return Math.abs(v) > Number.MAX_SAFE_INTEGER;
  if (v === null || typeof v !== "object") return false;
  return (Array.isArray(v) ? v : Object.values(v)).some(holdsLargeNumber);
}

/**
 * Integers the file writes that a number cannot hold, so that templates would get another one
 * (JSON.parse and js-yaml round them silently): read again with the `yaml` library, which keeps
 * integers exact. Heat's output JSON in strings is read the same way, and named by its output.
 */
function inexactIntegers(file: SourceFile, doc: Record<string, unknown>): Problem[] {
  // Placed by their pointers, as every parameters problem is (placeParamsProblems).
  const problems: Problem[] = integersChanged(file.text).map((pointer) => ({ file: file.path, pointer, message: INEXACT_PARAMETER_MESSAGE }));
  for (const [key, raw] of Object.entries(doc)) {
    if (typeof raw !== "string" || !looksLikeOutputJson(raw)) continue;
    if (integersChanged(raw).length) problems.push({ file: file.path, pointer: `/${pointerSegment(key)}`, message: `in this output's JSON, ${INEXACT_PARAMETER_MESSAGE}` });
  }
  return problems;
}

/** The line and column (from 1) of an offset in a text. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}

/** The JSON pointers of a YAML or JSON text's integers whose numbers are written as other integers. */
function integersChanged(text: string): string[] {
  const { isPair, isSeq, parseDocument, visit } = yamlLib();
  const pointers: string[] = [];
  visit(parseDocument(text.replace(/^\uFEFF/, ""), { intAsBigInt: true }), {
    Scalar(_, node, path) {
      if (typeof node.value !== "bigint" || writesBackAs(Number(node.value), node.value)) return;
      const segments = path.flatMap((step, i) => {
        if (isPair(step)) return [keyText(step.key) ?? ""];
        if (isSeq(step)) return [String(step.items.indexOf(path[i + 1] ?? node))];
        return [];
      });
      pointers.push(segments.map((seg) => `/${pointerSegment(seg)}`).join(""));
    },
  });
  return pointers;
}

/**
 * Adds the line and column to problems that name a parameters file and a JSON pointer: read as a
 * path in the document, or, in a Heat stack's outputs, as the output_value of that parameter.
 */
export function placeParamsProblems(problems: Problem[], files: SourceFile[]): Problem[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  return problems.map((p) => {
    const file = p.file === undefined ? undefined : byPath.get(p.file);
    if (!file || p.pointer === undefined || p.line !== undefined) return p;
    try {
      const { LineCounter, parseDocument } = yamlLib();
      const lineCounter = new LineCounter();
      const root = parseDocument(file.text, { lineCounter }).contents;
      const segments = p.pointer.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
      const offset = root ? pointerOffset(root, segments) : undefined;
      if (offset === undefined) return p;
      const { line, col } = lineCounter.linePos(offset);
      return { ...p, line, column: col };
    } catch {
      return p; // the file and the pointer still say where
    }
  });
}

function pointerOffset(root: YamlNode, segments: string[]): number | undefined {
  if (segments.length === 0 || mapValue(root, segments[0]) !== undefined) return fieldOffset(root, segments);
  // A Heat stack's outputs: the output whose output_key is the parameter.
  const stack = mapValue(root, "stack");
  const outputs = mapValue(stack ?? root, "outputs");
  if (!yamlLib().isSeq(outputs)) return undefined;
  const output = (outputs.items as YamlNode[]).find((o) => keyText(mapValue(o, "output_key")) === segments[0]);
  if (!output) return undefined;
  const value = mapValue(output, "output_value");
  return value ? fieldOffset(value, segments.slice(1)) : output.range?.[0];
}

/** JSON when the content looks like JSON (whatever the extension), YAML otherwise. */
function parseDocument(file: SourceFile): unknown {
  const text = file.text.replace(/^\uFEFF/, "");
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      throw new GenError("load-params", [jsonProblem(file.path, text)]);
    }
  }
  try {
    return yaml.load(text, { filename: file.path, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      throw new GenError("load-params", [
        { file: file.path, line: e.mark.line + 1, column: e.mark.column + 1, message: `invalid YAML: ${e.reason}` },
      ]);
    }
    throw e;
  }
}

/**
 * Where a JSON text goes wrong. V8's messages differ between versions and may quote the text
 * (a secret), so the position comes from a second, error-reporting parser instead.
 */
function jsonProblem(file: string, text: string): Problem {
  const { parse: parseJsonc, printParseErrorCode } = require("jsonc-parser") as typeof import("jsonc-parser");
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return { file, message: "invalid JSON" };
  const expected = printParseErrorCode(first.error).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return { file, ...lineAndColumn(text, first.offset), message: `invalid JSON: ${expected}` };
}

/** Bracket depth of a document, counted without recursion (a 10,000-deep file must not overflow). */
function exceedsDepth(text: string): boolean {
  let depth = 0;
  let inString: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === inString) inString = null;
      continue;
    }
    if (c === '"') inString = c;
    else if (c === "{" || c === "[") {
      if (++depth > MAX_PARAMS_DEPTH) return true;
    } else if (c === "}" || c === "]") depth--;
  }
  // YAML block nesting: indentation deeper than the limit allows is just as suspicious.
  return /\n( {128,})\S/.test(text);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (Array.isArray(v)) return "a list";
  return `a ${typeof v}`;
}

/**
 * Recognises the shapes operators have on disk:
 * - a plain object of name → value;
 * - `openstack stack show -f json|yaml`: `outputs: [{output_key, output_value, description}]`;
 * - the raw Heat API body: `{"stack": {...}}`;
 * - `openstack stack output show --all -f json`: values are JSON strings of `{output_key, output_value}`.
 */
export function normaliseShape(doc: Record<string, unknown>, file: string): ParamValues {
  const problems: Problem[] = [];
  let stack = doc;
  let base = "";
  if (isObject(doc.stack) && ("outputs" in doc.stack || "stack_status" in doc.stack)) {
    stack = doc.stack;
    base = "/stack";
  }
  if (Array.isArray(stack.outputs) || "stack_status" in stack) {
    checkStackStatus(stack, file);
    const outputs = Array.isArray(stack.outputs) ? stack.outputs : [];
    const values: ParamValues = {};
    outputs.forEach((output, i) => {
      const pointer = `${base}/outputs/${i}`;
      if (!isObject(output) || typeof output.output_key !== "string") {
        problems.push({ file, pointer, message: "expected an output with an output_key" });
        return;
      }
      if (output.output_error) {
        problems.push({ file, pointer, message: `stack output "${output.output_key}" has an error: ${oneLine(output.output_error)}` });
        return;
      }
      values[output.output_key] = output.output_value as ParamValues[string];
    });
    if (problems.length) throw new GenError("load-params", problems);
    return values;
  }
  const entries = Object.entries(doc);
  if (entries.length > 0 && entries.every(([, v]) => typeof v === "string" && looksLikeOutputJson(v))) {
    const values: ParamValues = {};
    for (const [key, raw] of entries) {
      const output = JSON.parse(raw as string) as Record<string, unknown>;
      const name = typeof output.output_key === "string" ? output.output_key : key;
      if (output.output_error) {
        problems.push({ file, pointer: `/${pointerSegment(key)}`, message: `stack output "${name}" has an error: ${oneLine(output.output_error)}` });
        continue;
      }
      values[name] = output.output_value as ParamValues[string];
    }
    if (problems.length) throw new GenError("load-params", problems);
    return values;
  }
  return doc as ParamValues;
}

function checkStackStatus(stack: Record<string, unknown>, file: string): void {
  const status = stack.stack_status;
  if (status === undefined) return;
  const name = typeof stack.stack_name === "string" ? stack.stack_name : "in this file";
  const statusText = String(status);
  if (!/_COMPLETE$/.test(statusText)) {
    throw new GenError("load-params", [
      { file, pointer: "/stack_status", message: `stack ${name} is ${statusText}; try again when it is complete` },
    ]);
  }
  if (statusText === "DELETE_COMPLETE") {
    throw new GenError("load-params", [
      { file, pointer: "/stack_status", message: `stack ${name} is DELETE_COMPLETE; it has no outputs to use` },
    ]);
  }
}

function looksLikeOutputJson(s: string): boolean {
  if (!/^\s*\{/.test(s)) return false;
  try {
    const v = JSON.parse(s);
    return isObject(v) && "output_key" in v;
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Heat's own error text names the failing resource; it never holds an output value.
function oneLine(v: unknown): string {
  return String(v).split("\n")[0].slice(0, 200);
}

/** Later layers override earlier ones key by key; remembers which layer supplied each key. */
export function mergeParamLayers(layers: ParamLayer[]): { values: ParamValues; origin: Record<string, string> } {
  const values: ParamValues = {};
  const origin: Record<string, string> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      values[key] = value;
      origin[key] = layer.origin;
    }
  }
  return { values, origin };
}
