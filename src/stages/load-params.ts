// Parses parameters files in every shape an operator has on disk and normalises them to a plain
// name → value object. Pure: the CLI reads the files and hands over their text.
import type { ParseError } from "jsonc-parser";
import { GenError, placingProblems, Problem, pointerSegment } from "../errors";
import { INEXACT_PARAMETER_MESSAGE, writesBackAs } from "../exact-integer";
import type { ParamLayer, ParamValues, SourceFile } from "../types";
import { fieldOffset, keyText, mapValue, yamlLib } from "../yaml-place";
import type { Alias, Document, Node as YamlNode, Pair, YAMLError } from "yaml";

/** Larger files are refused with a clear error instead of exhausting memory; counted while reading. */
export const MAX_PARAMS_MIB = 8;
export const MAX_PARAMS_BYTES = MAX_PARAMS_MIB * 1024 * 1024;
/** Parameters are flat or shallow; anything deeper is refused before any recursion. */
export const MAX_PARAMS_DEPTH = 64;
/**
 * How many nodes YAML aliases may repeat in all: shared resource blocks need a few hundred; a
 * "billion laughs" of 1 kB needs billions, and is refused at the alias that goes over.
 */
export const MAX_ALIAS_NODES = 10_000;

/**
 * Names every JavaScript object inherits (`constructor`, `__proto__`, `toString`...): as a
 * parameter or a key they would be confused with, or replace, what objects have built in.
 */
export const INHERITED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

export const inheritedNameMessage = (name: string, what = "a parameter's name"): string =>
  `"${name}" is a name that JavaScript objects inherit; it cannot be ${what}`;

export function parseParamsFile(file: SourceFile): ParamLayer {
  const fail = (message: string, where: Partial<Problem> = {}): never => {
    throw new GenError("load-params", [{ file: file.path, ...where, message }]);
  };
  if (Buffer.byteLength(file.text) > MAX_PARAMS_BYTES) fail(`is larger than ${MAX_PARAMS_MIB} MiB, the most a parameters file may hold`);
  const doc = readParamsDocument(file.text, file.path);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    fail(`expected an object of parameter names and values, got ${describe(doc)}`);
  }
  const place = (problems: Problem[]) => placeParamsProblems(problems, [file]);
  const values = placingProblems(() => normaliseShape(doc as Record<string, unknown>, file.path), place);
  // Placed by line and column, the pointer dropped: its keys are the file's text, and may be anything.
  placingProblems(() => checkValues(values, file.path), (problems) => place(problems).map((p) => (p.line === undefined ? p : { ...p, pointer: undefined })));
  if (holdsLargeNumber(values)) {
    const problems = inexactIntegers(file, doc as Record<string, unknown>);
    if (problems.length) throw new GenError("load-params", place(problems));
  }
  return { origin: file.path, values };
}

/**
 * The data of a parameters text (a file's, or a `--set` value's): JSON when it looks like JSON
 * (whatever the extension), YAML otherwise, each within the limits.
 */
export function readParamsDocument(fileText: string, file: string, opts: { flowYaml?: boolean } = {}): unknown {
  const text = fileText.replace(/^\uFEFF/, "");
  if (text.trim() === "") throw new GenError("load-params", [{ file, message: "is empty; expected an object of parameter names and values" }]);
  const json = /^\s*[{[]/.test(text);
  const tooDeepAt = (yaml: boolean): void => {
    const deep = tooDeep(text, yaml);
    if (deep) throw new GenError("load-params", [{ file, ...deep, message: `is nested more than ${MAX_PARAMS_DEPTH} levels deep; expected an object of parameter names and values` }]);
  };
  tooDeepAt(!json);
  if (!json) return readYaml(text, file);
  try {
    return readJson(text, file);
  } catch (jsonError) {
    // `{cpu: 1}` is YAML's flow style: a `--set` value may be written so; a file that looks like JSON is JSON.
    if (!opts.flowYaml) throw jsonError;
    tooDeepAt(true);
    try {
      return readYaml(text, file);
    } catch {
      throw jsonError;
    }
  }
}

/**
 * Refuses what a parameter's value may not hold, walked without recursion: keys that objects
 * inherit, and nesting beyond the limit (a Heat output's JSON, in a string, is not counted before).
 */
export function checkValues(values: ParamValues, file: string): void {
  const problems: Problem[] = [];
  const stack: { value: unknown; pointer: string; depth: number }[] = [{ value: values, pointer: "", depth: 0 }];
  while (stack.length && problems.length < 20) {
    const { value, pointer, depth } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_PARAMS_DEPTH) {
      problems.push({ file, pointer, message: `is nested more than ${MAX_PARAMS_DEPTH} levels deep` });
      continue;
    }
    for (const key of Object.keys(value)) {
      const at = `${pointer}/${pointerSegment(key)}`;
      if (!Array.isArray(value) && INHERITED_NAMES.has(key)) {
        problems.push({ file, pointer: at, message: inheritedNameMessage(key, depth === 0 ? "a parameter's name" : "a key") });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], pointer: at, depth: depth + 1 });
    }
  }
  if (problems.length) throw new GenError("load-params", problems);
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

/** A JSON document; a key given twice in one object is refused at both places (JSON.parse keeps the last silently). */
function readJson(text: string, file: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new GenError("load-params", [jsonProblem(file, text)]);
  }
  const problems = duplicateJsonKeys(text, file);
  if (problems.length) throw new GenError("load-params", problems);
  return doc;
}

function duplicateJsonKeys(text: string, file: string): Problem[] {
  const { visit } = require("jsonc-parser") as typeof import("jsonc-parser");
  const problems: Problem[] = [];
  const objects: Map<string, { line: number; column: number }>[] = [];
  visit(text, {
    onObjectBegin: () => void objects.push(new Map()),
    onObjectEnd: () => void objects.pop(),
    onObjectProperty: (name, _offset, _length, line, character) => {
      const seen = objects[objects.length - 1];
      const first = seen.get(name);
      const here = { line: line + 1, column: character + 1 };
      if (!first) return void seen.set(name, here);
      // By line and column only: a pointer would quote the file's keys.
      problems.push({ file, ...here, message: `this key is given twice in one object: first at line ${first.line}, column ${first.column}, then here; remove one` });
    },
  });
  return problems;
}

/** What each of the `yaml` library's error codes means, in words that never quote the text (its messages do). */
const YAML_MISTAKES: Partial<Record<YAMLError["code"], string>> = {
  ALIAS_PROPS: "an alias (*) cannot have an anchor or a tag",
  BAD_ALIAS: "an alias (*) that no anchor (&) before it defines",
  BAD_DIRECTIVE: "a directive (%) that YAML does not know",
  BAD_DQ_ESCAPE: "a double-quoted string holds an escape (\\) that YAML does not know",
  BAD_INDENT: "the indentation does not line up with the lines around it",
  BAD_PROP_ORDER: "an anchor (&) or tag (!) out of place",
  BAD_SCALAR_START: "a plain value cannot start with this character; quote the value",
  BLOCK_AS_IMPLICIT_KEY: "a second ': ' on one line; quote the value if it holds ': '",
  BLOCK_IN_FLOW: "a block value inside brackets ([ ] or { })",
  DUPLICATE_KEY: "this key is given twice in one mapping",
  KEY_OVER_1024_CHARS: "a key longer than 1024 characters",
  MISSING_CHAR: "a quote or bracket that is not closed",
  MULTILINE_IMPLICIT_KEY: "a key that runs over several lines",
  MULTIPLE_ANCHORS: "two anchors (&) on one value",
  MULTIPLE_DOCS: "a second document (after ---); a parameters file holds one",
  MULTIPLE_TAGS: "two tags (!) on one value",
  RESOURCE_EXHAUSTION: `nested more than the parser allows`,
  TAB_AS_INDENT: "a tab as indentation; indent with spaces",
  TAG_RESOLVE_FAILED: "a tag (!) that parameters cannot use; write the value plainly",
  UNEXPECTED_TOKEN: "unexpected text here",
  BAD_COLLECTION_TYPE: "a tag (!) that does not fit this mapping or list",
};

/**
 * A YAML document (of YAML 1.2's core schema, as JSON reads it) as plain data. Every mistake is
 * reported at its place in words of our own: the parser's messages quote the text, and the text of
 * a parameters file holds secrets. Aliases are expanded within MAX_ALIAS_NODES, keys must be
 * names, and a key given twice is refused at both places.
 */
export function readYaml(text: string, file: string): unknown {
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, schema: "core", uniqueKeys: false, prettyErrors: false, strict: true, merge: false });
  const at = (offset: number | undefined): Partial<Problem> => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: Problem[] = [...doc.errors, ...doc.warnings].map((e) => ({ file, ...at(e.pos[0]), message: `invalid YAML: ${YAML_MISTAKES[e.code] ?? "this cannot be read as YAML"}` }));
  if (problems.length) throw new GenError("load-params", problems);
  return yamlToData(doc, (node, message) => ({ file, ...at(node.range?.[0]), message }));
}

/**
 * The data of a parsed document, walked without recursion: each node is done after its children,
 * so an alias, which can only name an anchor before it, finds its anchor's value done (or its
 * anchor open: a loop). An alias shares its anchor's value, as js-yaml does, and counts its nodes.
 */
function yamlToData(doc: Document, problemAt: (node: YamlNode, message: string) => Problem): unknown {
  const { isAlias, isMap, isScalar, isSeq } = yamlLib();
  const done = new Map<YamlNode, { value: unknown; nodes: number }>();
  const open = new Set<YamlNode>();
  const anchors = new Map<string, YamlNode>();
  const problems: Problem[] = [];
  let aliasNodes = 0;
  const root = doc.contents;
  if (!root) return null;
  const stack: { node: YamlNode; depth: number; entered: boolean }[] = [{ node: root, depth: 0, entered: false }];
  while (stack.length && problems.length === 0) {
    const frame = stack[stack.length - 1];
    const { node } = frame;
    if (!frame.entered) {
      frame.entered = true;
      if (node.anchor) anchors.set(node.anchor, node);
      if (frame.depth > MAX_PARAMS_DEPTH) {
        problems.push(problemAt(node, `is nested more than ${MAX_PARAMS_DEPTH} levels deep`));
        break;
      }
      open.add(node);
      const children: YamlNode[] = isMap(node) ? (node.items as Pair<YamlNode, YamlNode | null>[]).flatMap((p) => (p.value ? [p.key, p.value] : [p.key])) : isSeq(node) ? (node.items as YamlNode[]) : [];
      for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i], depth: frame.depth + 1, entered: false });
      continue;
    }
    stack.pop();
    open.delete(node);
    if (isAlias(node)) {
      const target = anchors.get((node as Alias).source);
      const anchored = target && done.get(target);
      if (!anchored) {
        problems.push(problemAt(node, target ? "invalid YAML: an alias (*) inside the value its anchor (&) names: a loop" : `invalid YAML: ${YAML_MISTAKES.BAD_ALIAS}`));
        break;
      }
      aliasNodes += anchored.nodes;
      if (aliasNodes > MAX_ALIAS_NODES) {
        problems.push(problemAt(node, `invalid YAML: aliases (*) here repeat more than ${MAX_ALIAS_NODES} values in all; write the values out`));
        break;
      }
      done.set(node, anchored);
    } else if (isScalar(node)) {
      if (node.value !== null && !["string", "number", "boolean"].includes(typeof node.value)) {
        problems.push(problemAt(node, `invalid YAML: ${YAML_MISTAKES.TAG_RESOLVE_FAILED}`));
        break;
      }
      done.set(node, { value: node.value, nodes: 1 });
    } else if (isSeq(node)) {
      const items = node.items as YamlNode[];
      done.set(node, { value: items.map((n) => done.get(n)!.value), nodes: items.reduce((sum, n) => sum + done.get(n)!.nodes, 1) });
    } else if (isMap(node)) {
      const value: Record<string, unknown> = {};
      const keys = new Map<string, YamlNode>();
      let nodes = 1;
      for (const pair of node.items as Pair<YamlNode, YamlNode | null>[]) {
        const key = pair.key;
        if (!isScalar(key) || key.value === null || typeof key.value === "object") {
          problems.push(problemAt(key ?? node, "invalid YAML: a key must be a name, not a list, a mapping, an alias or nothing"));
          continue;
        }
        const name = String(key.value);
        const first = keys.get(name);
        if (first) {
          const { line, column } = problemAt(first, "");
          problems.push(problemAt(key, `this key is given twice in one mapping: first at line ${line}, column ${column}, then here; remove one`));
          continue;
        }
        keys.set(name, key);
        const item = pair.value ? done.get(pair.value)! : { value: null, nodes: 0 };
        // Never through the setter, which would replace the object's prototype; checkValues refuses the name.
        Object.defineProperty(value, name, { value: item.value, enumerable: true, writable: true, configurable: true });
        nodes += 1 + item.nodes;
      }
      done.set(node, { value, nodes });
    } else {
      problems.push(problemAt(node, "invalid YAML: this cannot be read as YAML"));
    }
  }
  if (problems.length) throw new GenError("load-params", problems);
  return done.get(root)!.value;
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

/**
 * Whether a document nests deeper than the limit, found without recursion and before any parser
 * sees it (a 10,000-deep file must not overflow, and the YAML parser runs out of memory on a line
 * of 10,000 "- "): by brackets, and by the indentation and "- ", "? ", ": " before a line's content.
 */
function tooDeep(text: string, yaml: boolean): Partial<Problem> | undefined {
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
      if (++depth > MAX_PARAMS_DEPTH) return lineAndColumn(text, i);
    } else if (c === "}" || c === "]") depth--;
  }
  if (!yaml) return undefined;
  // A bound for the parser, not the limit (the walk after parsing counts levels): four columns a level.
  const blockPrefix = /^(?:[ \t]|[-?:](?=[ \t]))+/gm;
  for (let m = blockPrefix.exec(text); m; m = blockPrefix.exec(text)) {
    if (m[0].length > 4 * MAX_PARAMS_DEPTH) return lineAndColumn(text, m.index + m[0].length);
  }
  return undefined;
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
      if (INHERITED_NAMES.has(output.output_key)) {
        problems.push({ file, pointer: `${pointer}/output_key`, message: inheritedNameMessage(output.output_key) });
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
      if (duplicateJsonKeys(raw as string, file).length) {
        problems.push({ file, pointer: `/${pointerSegment(key)}`, message: "in this output's JSON, a key is given twice in one object; remove one" });
        continue;
      }
      if (INHERITED_NAMES.has(name)) {
        problems.push({ file, pointer: `/${pointerSegment(key)}`, message: `in this output's JSON, ${inheritedNameMessage(name)}` });
        continue;
      }
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
