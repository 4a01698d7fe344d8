// Reads the inputs from disk: the one place besides write-output that touches the file system.
import fs from "node:fs";
import path from "node:path";
import { GenError, Problem } from "./errors";
import { MAX_PARAMS_BYTES } from "./stages/load-params";
import { discoverTemplates } from "./stages/discover-templates";
import { checkSchema } from "./stages/validate-params";
import type { ParamSchema, SourceFile, TemplateFile } from "./types";

/** The package's own folder (where the shipped OpenStack set lives), from dist/ or dist/src/. */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "kubernetes-in"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, "..");
  }
}

/** `--params -` reads the parameters from standard input, as `kubectl apply -f -` does. */
export const STDIN = "-";
/** How messages name standard input. */
export const STDIN_NAME = "<stdin>";
let stdinText: string | undefined;

/** A parameters file's text; standard input is read once, whoever asks first. */
export function readParamsText(p: string, cwd = process.cwd()): string {
  if (p === STDIN) return (stdinText ??= fs.readFileSync(0, "utf8"));
  return fs.readFileSync(path.resolve(cwd, p), "utf8");
}

export interface InputPaths {
  params: string[];
  templatesDir?: string;
  schemaFile?: string;
}

export interface Inputs {
  paramsFiles: SourceFile[];
  templates: TemplateFile[];
  templatesDir: string;
  schema: ParamSchema;
  schemaFile: string;
}

/** `./kubernetes-in` when the current folder has one, else the set shipped with the package. */
export function defaultTemplatesDir(cwd: string): string {
  const local = path.join(cwd, "kubernetes-in");
  return fs.existsSync(local) ? "kubernetes-in" : path.relative(cwd, path.join(PACKAGE_ROOT, "kubernetes-in")) || ".";
}

/** `params/schema.json` beside the templates folder, as the shipped set lays them out. */
export function defaultSchemaFile(templatesDir: string): string {
  return path.join(path.dirname(templatesDir), "params", "schema.json");
}

/** One parameters file (or standard input), or the problem that keeps it from being read. */
function readParamsFile(p: string, cwd: string): SourceFile | Problem {
  const name = p === STDIN ? STDIN_NAME : p;
  const tooLarge = (bytes: number): Problem => ({ file: name, message: `is ${(bytes / 1e6).toFixed(1)} MB; a parameters file may be at most ${MAX_PARAMS_BYTES / 1024 / 1024} MiB` });
  try {
    if (p !== STDIN) {
      const stat = fs.statSync(path.resolve(cwd, p));
      if (stat.isDirectory()) return { file: name, message: "is a folder; expected a parameters file (JSON or YAML)" };
      // Before reading: a huge file is never loaded.
      if (stat.size > MAX_PARAMS_BYTES) return tooLarge(stat.size);
    }
    const text = readParamsText(p, cwd);
    return Buffer.byteLength(text) > MAX_PARAMS_BYTES ? tooLarge(Buffer.byteLength(text)) : { path: name, text };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { file: name, message: code === "ENOENT" ? "no such parameters file" : `cannot be read (${code})` };
  }
}

export function readInputs(paths: InputPaths, cwd = process.cwd()): Inputs {
  const problems: Problem[] = [];
  const paramsFiles: SourceFile[] = [];
  if (paths.params.filter((p) => p === STDIN).length > 1) {
    throw new GenError("usage", [{ message: "--params - (standard input) may be given once" }], 2);
  }
  for (const p of paths.params) {
    const read = readParamsFile(p, cwd);
    if ("text" in read) paramsFiles.push(read);
    else problems.push(read);
  }
  const templatesDir = paths.templatesDir ?? defaultTemplatesDir(cwd);
  const schemaFile = paths.schemaFile ?? defaultSchemaFile(templatesDir);
  let schema: ParamSchema | undefined;
  try {
    schema = checkSchema(JSON.parse(fs.readFileSync(path.resolve(cwd, schemaFile), "utf8")), schemaFile);
  } catch (e) {
    if (e instanceof GenError) problems.push(...e.problems);
    else problems.push({ file: schemaFile, message: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such schema file (set --schema)" : `is not a JSON Schema: ${(e as Error).message}` });
  }
  let templates: TemplateFile[] = [];
  try {
    templates = discoverTemplates(path.resolve(cwd, templatesDir), templatesDir);
  } catch (e) {
    if (!(e instanceof GenError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length || !schema) throw new GenError("load-params", problems);
  return { paramsFiles, templates, templatesDir, schema, schemaFile };
}
