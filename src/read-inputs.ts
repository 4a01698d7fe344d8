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

export function readInputs(paths: InputPaths, cwd = process.cwd()): Inputs {
  const problems: Problem[] = [];
  const paramsFiles: SourceFile[] = [];
  if (paths.params.filter((p) => p === STDIN).length > 1) {
    throw new GenError("usage", [{ message: "--params - (standard input) may be given once" }], 2);
  }
  for (const p of paths.params) {
    if (p === STDIN) {
      try {
        const text = readParamsText(p, cwd);
        if (Buffer.byteLength(text) > MAX_PARAMS_BYTES) problems.push({ file: STDIN_NAME, message: `is ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB; parameters may be at most ${MAX_PARAMS_BYTES / 1024 / 1024} MiB` });
        else paramsFiles.push({ path: STDIN_NAME, text });
      } catch (e) {
        problems.push({ file: STDIN_NAME, message: `cannot be read (${(e as NodeJS.ErrnoException).code})` });
      }
      continue;
    }
    try {
      const stat = fs.statSync(path.resolve(cwd, p));
      if (stat.isDirectory()) {
        problems.push({ file: p, message: "is a folder; expected a parameters file (JSON or YAML)" });
        continue;
      }
      if (stat.size > MAX_PARAMS_BYTES) {
        problems.push({ file: p, message: `is ${(stat.size / 1e6).toFixed(1)} MB; a parameters file may be at most ${MAX_PARAMS_BYTES / 1024 / 1024} MiB` });
        continue;
      }
      paramsFiles.push({ path: p, text: readParamsText(p, cwd) });
    } catch (e) {
      problems.push({ file: p, message: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such parameters file" : `cannot be read (${(e as NodeJS.ErrnoException).code})` });
    }
  }
  const templatesDir = paths.templatesDir ?? defaultTemplatesDir(cwd);
  const schemaFile = paths.schemaFile ?? path.join(path.dirname(templatesDir), "params", "schema.json");
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
