// Shared by the tests: in-memory template sets, temporary charts on disk, and the CLI as a user
// runs it (a new process of the built binary).
import assert from "node:assert/strict";
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GenError, formatProblem } from "../src/errors";
import { runPipeline, PipelineResult } from "../src/pipeline";
import type { CompileCache } from "../src/compile-cache";
import type { ParamSchema, TemplateFile } from "../src/types";

export const REPO = path.resolve(__dirname, "..", "..");
export const CLI = path.join(REPO, "dist", "gen-manifests.js");
export const SHIPPED_SCHEMA = JSON.parse(fs.readFileSync(path.join(REPO, "params", "schema.json"), "utf8")) as ParamSchema;
export const EXAMPLE_PARAMS = JSON.parse(fs.readFileSync(path.join(REPO, "params", "example.json"), "utf8")) as Record<string, unknown>;

/**
 * How many cases a slow property test tries: a few by default, each run drawing new ones, and its
 * full count with `npm test -- --deep` (GEN_MANIFESTS_DEEP_TESTS=1).
 */
export function propertyRuns(full: number, quick: number): number {
  return process.env.GEN_MANIFESTS_DEEP_TESTS ? full : quick;
}

/** A small schema for the unit tests: `name`, `replicas`, `password` (secret), `flag`, `obj`. */
export const TEST_SCHEMA: ParamSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    name: { type: "string", minLength: 1 },
    replicas: { type: "integer", default: 2 },
    password: { type: "string", writeOnly: true },
    flag: { type: "boolean", default: false },
    obj: { type: "object", default: { cpu: "100m" } },
    url: { type: "string", format: "uri", default: "https://example.com/v1/t/c" },
  },
  required: ["name", "password"],
};

export function templateFiles(files: Record<string, string>, dir = "tpl"): TemplateFile[] {
  return Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, text]) => ({ name, text, path: `${dir}/${name}`, source: `${dir}/${name}`, isPartial: path.basename(name).startsWith("_") }));
}

export interface MemoryRun {
  templates: Record<string, string>;
  params?: Record<string, unknown>;
  schema?: ParamSchema;
  sets?: string[];
  inlineSecrets?: boolean;
  cache?: CompileCache;
  kubeVersion?: string;
}

/** Runs the whole pipeline in memory. */
export function renderInMemory(run: MemoryRun): PipelineResult {
  return runPipeline({
    paramsFiles: [{ path: "params.json", text: JSON.stringify(run.params ?? { name: "demo", password: "s3cret-value" }) }],
    sets: run.sets ?? [],
    schema: run.schema ?? TEST_SCHEMA,
    schemaFile: "schema.json",
    templates: templateFiles(run.templates),
    outDir: "out",
    secretsDir: "secrets",
    inlineSecrets: run.inlineSecrets ?? false,
    cache: run.cache,
    kubeVersion: run.kubeVersion,
  });
}

/** A compile cache in memory, which counts what is written to it. */
export function memoryCache(): CompileCache & { entries: Map<string, string>; writes: string[] } {
  const entries = new Map<string, string>();
  const writes: string[] = [];
  return {
    entries,
    writes,
    get: (key) => entries.get(key),
    set: (key, code) => {
      writes.push(key);
      entries.set(key, code);
    },
  };
}

/** The formatted problems of a failing in-memory run, or a failure if it succeeds. */
export function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (e) {
    if (e instanceof GenError) return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error("expected the run to fail, but it succeeded");
}

const madeDirs: string[] = [];

// Each test file runs in its own process: its folders go when it ends, unless kept for a look.
process.once("exit", () => {
  if (process.env.GEN_MANIFESTS_KEEP_TEST_DIRS) return;
  for (const dir of madeDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // A folder a test made unwritable stays; the system cleans its temporary folder.
    }
  }
});

/** A new folder under the system's temporary folder, removed when the test process ends. */
export function tmpDir(prefix = "gm-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
}

/** A chart on disk: kubernetes-in/, params/schema.json and a params file, in a new folder. */
export function makeChart(templates: Record<string, string>, params: Record<string, unknown>, schema: ParamSchema = TEST_SCHEMA): string {
  const root = tmpDir();
  const files: Record<string, string> = { "params/schema.json": JSON.stringify(schema), "params.json": JSON.stringify(params) };
  for (const [name, text] of Object.entries(templates)) files[`kubernetes-in/${name}`] = text;
  writeFiles(root, files);
  return root;
}

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; cli?: string } = {}): SpawnSyncReturns<string> & { all: string } {
  const r = spawnSync(process.execPath, [opts.cli ?? CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    input: opts.input,
  });
  return Object.assign(r, { all: `${r.stdout}${r.stderr}` });
}

/**
 * The CLI run in this process, as `runCli` reports it (status, stdout, stderr): no new node, so a
 * call costs the render instead of a process start. For calls that read only arguments and files:
 * one that needs its own process (standard input, environment read at start, `--out -` through
 * process.stdout, signals, locks between processes, the launcher or the bundle) uses `runCli`.
 */
export function runCliHere(args: string[], opts: { cwd?: string } = {}): { status: number; stdout: string; stderr: string; all: string } {
  // Loaded on first use: a test file that only spawns does not pay for the CLI's modules.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require("../src/cli") as typeof import("../src/cli");
  const out = { stdout: "", stderr: "" };
  const put = (fd: 1 | 2, text: string): void => void (out[fd === 1 ? "stdout" : "stderr"] += text);
  const console_ = { log: console.log, error: console.error, warn: console.warn };
  const noColor = process.env.NO_COLOR;
  const cwd = process.cwd();
  console.log = (...a: unknown[]) => put(1, `${a.join(" ")}\n`);
  console.error = console.warn = (...a: unknown[]) => put(2, `${a.join(" ")}\n`);
  process.env.NO_COLOR = "1";
  try {
    process.chdir(opts.cwd ?? REPO);
    const status = main(args, put);
    return { status, ...out, all: `${out.stdout}${out.stderr}` };
  } finally {
    process.chdir(cwd);
    Object.assign(console, console_);
    if (noColor === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = noColor;
  }
}

/** Every file below a folder with its mode and bytes, links as their target: to compare before and after. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(d);
    } catch {
      return;
    }
    const mode = (stat.mode & 0o777).toString(8);
    if (stat.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(d)}`;
    else if (stat.isDirectory()) {
      out[`${rel}/`] = `dir ${mode}`;
      for (const name of fs.readdirSync(d).sort()) walk(path.join(d, name), rel ? `${rel}/${name}` : name);
    } else out[rel] = `${mode} ${fs.readFileSync(d, "utf8")}`;
  };
  walk(dir, "");
  return out;
}

/** A minimal valid Deployment + Service template for the CLI tests. */
export const WEB_TEMPLATE = `apiVersion: v1
kind: Service
metadata:
  name: {{name}}
spec:
  selector:
    app: {{name}}
  ports:
    - port: 80
      targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{name}}
spec:
  replicas: {{replicas}}
  selector:
    matchLabels:
      app: {{name}}
  template:
    metadata:
      labels:
        app: {{name}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - name: http
              containerPort: 80
`;

export const SECRET_TEMPLATE = `apiVersion: v1
kind: Secret
metadata:
  name: {{name}}-secret
stringData:
  password: {{password}}
`;

/** A rendered Secret's values as text: the pipeline writes them as the API server stores them, base64 under `data`. */
export function secretText(object: unknown): Record<string, string> {
  const o = object as { kind?: string; data?: Record<string, string>; stringData?: unknown };
  assert.equal(o.stringData, undefined, "a rendered Secret has no stringData");
  return Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}
