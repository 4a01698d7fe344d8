// Reads the inputs from disk: the one place besides write-output that touches the file system.
import fs from "node:fs";
import path from "node:path";
import { GenError, Problem } from "./errors";
import { MAX_PARAMS_BYTES, MAX_PARAMS_MIB } from "./stages/load-params";
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

/**
 * What reading each parameters file gave, text or refusal, by its path. A file is read once a run:
 * standard input cannot be read twice, a refused file (an endless device, a FIFO fed forever) must
 * not be read a second time to learn its secrets, and the text checked is the text used.
 */
const paramsReads = new Map<string, SourceFile | Problem>();

/** Forgets what the files held, so that the next run (`--watch`) reads them afresh; standard input is read once for all. */
function forgetParamsReads(): void {
  for (const key of paramsReads.keys()) if (key !== STDIN) paramsReads.delete(key);
}

/** A parameters file's text; throws its refusal as a GenError. Each file is read once, whoever asks first. */
export function readParamsText(p: string, cwd = process.cwd()): string {
  const read = readParamsFile(p, cwd);
  if ("text" in read) return read.text;
  throw new GenError("load-params", [read]);
}

/** One parameters file (or standard input), or the problem that keeps it from being read. */
function readParamsFile(p: string, cwd: string): SourceFile | Problem {
  const key = p === STDIN ? STDIN : path.resolve(cwd, p);
  let read = paramsReads.get(key);
  if (!read) {
    const name = p === STDIN ? STDIN_NAME : p;
    read = readBounded(name, p === STDIN ? 0 : key);
    paramsReads.set(key, read);
  }
  return read;
}

const READ_CHUNK = 64 * 1024;

/**
 * Reads at most MAX_PARAMS_BYTES (counted while reading: /dev/zero, a FIFO or a growing file have
 * no size to trust beforehand), then decodes the bytes as strict UTF-8.
 */
function readBounded(name: string, source: string | number): SourceFile | Problem {
  let fd: number | undefined;
  try {
    fd = typeof source === "number" ? source : fs.openSync(source, "r");
    if (fs.fstatSync(fd).isDirectory()) return { file: name, message: "is a folder; expected a parameters file (JSON or YAML)" };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      let n: number;
      try {
        n = fs.readSync(fd, chunk, 0, READ_CHUNK, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
          Atomics.wait(PAUSE, 0, 0, 5); // a non-blocking pipe with nothing in it yet
          continue;
        }
        if ((e as NodeJS.ErrnoException).code === "EOF") break; // Windows' end of a pipe
        throw e;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_PARAMS_BYTES) return { file: name, message: `is larger than ${MAX_PARAMS_MIB} MiB, the most a parameters file may hold` };
      chunks.push(chunk.subarray(0, n));
    }
    return decodeUtf8(name, Buffer.concat(chunks, total));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EISDIR") return { file: name, message: "is a folder; expected a parameters file (JSON or YAML)" };
    return { file: name, message: code === "ENOENT" ? "no such parameters file" : `cannot be read (${code ?? "unknown error"})` };
  } finally {
    if (fd !== undefined && typeof source !== "number") fs.closeSync(fd);
  }
}

/** Something to wait on: nothing ever wakes it, so a wait on it is a pause. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * The bytes as text, or a refusal at the first byte that is not UTF-8: replacing it with U+FFFD
 * would deploy another password than the one in the file.
 */
function decodeUtf8(name: string, bytes: Buffer): SourceFile | Problem {
  const text = bytes.toString("utf8");
  if (!text.includes("\uFFFD")) return { path: name, text };
  // Each U+FFFD is either written in the file (as EF BF BD) or stands for bytes that are not UTF-8.
  let byteOffset = 0;
  let charOffset = 0;
  for (let i = text.indexOf("\uFFFD"); i !== -1; i = text.indexOf("\uFFFD", i + 1)) {
    byteOffset += Buffer.byteLength(text.slice(charOffset, i));
    charOffset = i;
    if (bytes[byteOffset] === 0xef && bytes[byteOffset + 1] === 0xbf && bytes[byteOffset + 2] === 0xbd) continue;
    const before = text.slice(0, i);
    const line = before.split("\n").length;
    return { file: name, line, column: i - before.lastIndexOf("\n"), message: "is not valid UTF-8 here; save the file as UTF-8" };
  }
  return { path: name, text };
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

export function readInputs(paths: InputPaths, cwd = process.cwd()): Inputs {
  const problems: Problem[] = [];
  const paramsFiles: SourceFile[] = [];
  if (paths.params.filter((p) => p === STDIN).length > 1) {
    throw new GenError("usage", [{ message: "--params - (standard input) may be given once" }], 2);
  }
  forgetParamsReads();
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
