// npm run bench: gen-manifests against `kubectl kustomize` (a Go program, on the same objects),
// `node -e 0` (the floor of any Node tool) and a plain Node script that writes the same files (the
// floor of any Node tool that writes them), on the shipped OpenStack set and on synthetic sets of
// 100, 1,000 and 10,000 templates. Each command is a new process, as a user runs it. The commands
// of a set run in turns, round after round (in a different order each round), so each ratio is
// taken pair by pair from runs made moments apart, and the machine's slow minutes weigh on both
// sides alike. Prints a markdown table and writes it to bench/results.md.
// BENCH_BASELINE=<folder>: also runs the gen-manifests built in that folder (another checkout,
// built), in the same turns, and divides by it: the old build and the new side by side.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const REPO = path.resolve(__dirname, "..", "..");
const CLI = path.join(REPO, "dist", "gen-manifests.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
const TIME = "/usr/bin/time";
const HAVE_TIME = fs.existsSync(TIME);
const HAVE_KUBECTL = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

interface Sample {
  seconds: number;
  rssMb: number;
  /** User and system CPU seconds: on a machine others load, what a command costs, whatever it waited. */
  cpu: number;
}

interface Command {
  argv: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** One run of a command: wall time, and peak RSS as GNU time reports it (~1 ms more for every command alike). */
function measure(c: Command): Sample {
  const options = { cwd: c.cwd, env: { ...process.env, ...c.env }, encoding: "utf8" as const, maxBuffer: 1 << 30 };
  const started = process.hrtime.bigint();
  const r = HAVE_TIME ? spawnSync(TIME, ["-f", "%M %U %S", ...c.argv], options) : spawnSync(c.argv[0], c.argv.slice(1), options);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${c.argv.join(" ")} failed:\n${(r.stderr ?? String(r.error)).slice(-2000)}`);
  const [rss, user, system] = HAVE_TIME ? r.stderr.trim().split("\n").pop()!.split(" ").map(Number) : [NaN, NaN, NaN];
  return { seconds, rssMb: rss / 1024, cpu: user + system };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The median of the ratios of runs made in the same round: a[i] / b[i]. */
export function pairedRatio(a: number[], b: number[]): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`pairedRatio: ${a.length} and ${b.length} samples`);
  return median(a.map((x, i) => x / b[i]));
}

/**
 * One warm-up round, then `runs` rounds; in each, every command runs once, starting one further
 * along the list each round. `make` gives a command for a round (a fresh output folder each time).
 */
export function inTurns(make: ((round: number) => Command)[], runs: number, run: (c: Command) => Sample = measure): Sample[][] {
  for (const m of make) run(m(-1));
  const samples: Sample[][] = make.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < make.length; k++) {
      const i = (round + k) % make.length;
      samples[i].push(run(make[i](round)));
    }
  }
  return samples;
}

/** Deployments, Services, Secrets and Jobs in the proportions of a real control plane (3:3:3:1). */
export function syntheticSet(dir: string, count: number): void {
  const tpl = path.join(dir, "kubernetes-in");
  fs.mkdirSync(tpl, { recursive: true });
  fs.mkdirSync(path.join(dir, "params"), { recursive: true });
  fs.writeFileSync(
    path.join(dir, "params", "schema.json"),
    JSON.stringify({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: {
        namespace: { type: "string", default: "bench" },
        image_tag: { type: "string", default: "1.0" },
        replicas: { type: "integer", default: 3 },
        password: { type: "string", writeOnly: true, minLength: 1 },
        resources: { type: "object", default: { requests: { cpu: "100m", memory: "128Mi" } } },
      },
      required: ["password"],
    }),
  );
  fs.writeFileSync(path.join(dir, "params.json"), JSON.stringify({ password: "bench-secret-value" }));
  fs.writeFileSync(path.join(tpl, "_labels.hbs"), "app.kubernetes.io/name: {{app}}\napp.kubernetes.io/managed-by: gen-manifests\n");
  let written = 0;
  for (let g = 0; written < count; g++) {
    const files: [string, string][] = [
      [`d${g}.yaml.hbs`, `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc${g}\n  namespace: {{namespace}}\n  labels:\n    {{> labels app="svc${g}"}}\nspec:\n  replicas: {{replicas}}\n  selector:\n    matchLabels:\n      {{> labels app="svc${g}"}}\n  template:\n    metadata:\n      labels:\n        {{> labels app="svc${g}"}}\n    spec:\n      containers:\n        - name: server\n          image: example/svc${g}:{{image_tag}}\n          command: ["server", "--port=8080"]\n          ports:\n            - name: http\n              containerPort: 8080\n          env:\n            - name: PASSWORD\n              valueFrom:\n                secretKeyRef:\n                  name: svc${g}\n                  key: password\n          readinessProbe:\n            tcpSocket:\n              port: http\n          resources: {{resources}}\n`],
      [`s${g}.yaml.hbs`, `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc${g}\n  namespace: {{namespace}}\nspec:\n  selector:\n    {{> labels app="svc${g}"}}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n`],
      [`x${g}.yaml.hbs`, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: svc${g}\n  namespace: {{namespace}}\nstringData:\n  password: {{password}}\n`],
    ];
    if (g % 3 === 0) files.push([`j${g}.yaml.hbs`, `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: svc${g}-migrate\n  namespace: {{namespace}}\nspec:\n  backoffLimit: 4\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers:\n        - name: migrate\n          image: example/svc${g}:{{image_tag}}\n`]);
    for (const [name, text] of files) {
      if (written++ >= count) break;
      fs.writeFileSync(path.join(tpl, name), text);
    }
  }
}

/** One template of a synthetic set as a user edits it: another port each round, so the output changes too. */
export function editTemplate(text: string, round: number): string {
  const edited = text.replace(/--port=\d+/, `--port=${9000 + round}`);
  if (edited === text) throw new Error("editTemplate: no --port= to change");
  return edited;
}

/** The shipped set's template a user edits in the benchmark: Keystone's, its Service's public port. */
export const OPENSTACK_EDITED = "keystone.yaml.hbs";

/** Keystone's template as a user edits it: its Service's public port changed, another each round. */
export function editOpenStackTemplate(text: string, round: number): string {
  const edited = text.replace(/^(\s+port: )5000$/m, `$1${15000 + round}`);
  if (edited === text) throw new Error(`editOpenStackTemplate: no "port: 5000" in ${OPENSTACK_EDITED} to change`);
  return edited;
}

/**
 * A template added to a synthetic set, as a user adds one: a Secret of its own, named for the
 * round, sorted among the first templates (so that fixed runs of templates would all shift).
 */
export function addedTemplate(round: number): [name: string, text: string] {
  return [`d0-added-${round}.yaml.hbs`, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: added-${round}\n  namespace: {{namespace}}\nstringData:\n  password: {{password}}\n`];
}

/** The I/O floor: a Node script that writes the files a render writes (read from an earlier render), nothing else. */
const COPY_SCRIPT = `const fs = require("fs"), path = require("path");
const [from, to] = process.argv.slice(2);
for (const dir of fs.readdirSync(from)) {
  fs.mkdirSync(path.join(to, dir), { recursive: true });
  for (const f of fs.readdirSync(path.join(from, dir))) fs.writeFileSync(path.join(to, dir, f), fs.readFileSync(path.join(from, dir, f)));
}
`;

/**
 * How fast this disk creates files right now: a plain Node loop writing 10,000 files of 500 bytes.
 * Some disks slow down ten-fold for minutes after a large delete; this tells such a run apart.
 */
function diskCalibration(work: string): number {
  const dir = fs.mkdtempSync(path.join(work, "disk-"));
  const started = process.hrtime.bigint();
  for (let i = 0; i < 10000; i++) fs.writeFileSync(path.join(dir, `f${i}.yaml`), "x".repeat(500));
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * The disk line of the results. Some disks slow down ten-fold for minutes after a large delete: if
 * the disk's speed changed by more than half between the calibrations, the sets run meanwhile were
 * measured partly on a slow disk, and the line says so.
 */
export function diskLine(before: number, after: number): string {
  const line = `Disk: a plain Node loop wrote 10,000 files of 500 bytes in ${before.toFixed(0)} ms before the sets and ${after.toFixed(0)} ms after (about 250 ms when the disk is calm).`;
  const changed = Math.max(before, after) / Math.min(before, after) > 1.5;
  return changed ? `${line} **The disk's speed changed during the run: the sets measured while it was slow took longer than they would have. Run it again once the disk is calm.**` : line;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const kubectl = HAVE_KUBECTL ? spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).stdout.split("\n")[0] : "no kubectl";
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${kubectl}`;
}

export interface Row {
  name: string;
  objects?: number;
  samples: Sample[];
  /** Paired ratios, by what they divide by (old: this row's CPU time by the old build's, and wall time). */
  ratios: { kustomize?: number; node?: number; floor?: number; oldCpu?: number; oldWall?: number };
  targets?: string;
}

const ms = (s: number): string => `${(s * 1000).toFixed(0)} ms`;
const times = (r: number | undefined): string => (r === undefined ? "" : `${r.toFixed(2)}×`);

export function formatTable(rows: Row[]): string {
  const lines = [
    "| what | objects | median wall | median CPU | peak RSS | objects/s | ÷ kustomize | ÷ node -e 0 | ÷ I/O floor | ÷ old build (CPU / wall) | targets |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of rows) {
    const wall = median(r.samples.map((s) => s.seconds));
    const rss = Math.max(...r.samples.map((s) => s.rssMb));
    const cells = [
      r.name,
      r.objects ? r.objects.toLocaleString("en") : "",
      ms(wall),
      Number.isNaN(r.samples[0]?.cpu) ? "n/a" : ms(median(r.samples.map((s) => s.cpu))),
      Number.isNaN(rss) ? "n/a" : `${rss.toFixed(0)} MB`,
      r.objects ? Math.round(r.objects / wall).toLocaleString("en") : "",
      times(r.ratios.kustomize),
      times(r.ratios.node),
      times(r.ratios.floor),
      r.ratios.oldCpu === undefined ? "" : `${times(r.ratios.oldCpu)} / ${times(r.ratios.oldWall)}`,
      r.targets ?? "",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

interface BenchSet {
  label: string;
  cwd: string;
  params: string;
  env?: NodeJS.ProcessEnv;
  /** kubectl kustomize takes about 80 s on 10,000 objects (measured once): not run on that set. */
  kustomize: boolean;
}

interface SetResult {
  set: BenchSet;
  objects: number;
  gen: Sample[];
  node: Sample[];
  floor: Sample[];
  kustomize?: Sample[];
  /** The baseline build, rendering the same set in the same rounds. */
  old?: Sample[];
}

/** gen-manifests rendering a set into `out`, as a user runs it; `env` replaces the set's own. */
function renderCommand(set: BenchSet, out: string, env = set.env, ...extra: string[]): Command {
  return { argv: [process.execPath, CLI, "--params", set.params, "--out", out, "--quiet", ...extra], cwd: set.cwd, env };
}

/** The baseline build rendering a set, with a compile cache of its own. */
function baselineCommand(set: BenchSet, out: string, cacheDir: string): Command {
  return { argv: [process.execPath, path.join(BASELINE!, "dist", "gen-manifests.js"), "--params", set.params, "--out", out, "--quiet"], cwd: set.cwd, env: { GEN_MANIFESTS_CACHE_DIR: cacheDir } };
}

function benchSet(set: BenchSet, work: string, fresh: () => string, copy: string): SetResult {
  const render = (out: string, ...extra: string[]): Command => renderCommand(set, out, set.env, ...extra);
  // The same objects for kustomize (Secrets inline, so it reads them all), and the same files for the floor.
  const reference = fs.mkdtempSync(path.join(work, "reference-"));
  measure(render(path.join(reference, "inline", "out"), "--inline-secrets"));
  measure(render(path.join(reference, "files", "out")));
  const objects = fs.readdirSync(path.join(reference, "inline", "out")).filter((f) => /^\d\d-/.test(f)).length;

  const make: ((round: number) => Command)[] = [
    () => ({ argv: [process.execPath, "-e", "0"], cwd: set.cwd }),
    () => render(path.join(fresh(), "out")),
    () => ({ argv: [process.execPath, copy, path.join(reference, "files"), fresh()], cwd: set.cwd }),
  ];
  const oldCache = path.join(work, `cache-baseline-${set.label.replace(/\W+/g, "-")}`);
  if (BASELINE) make.push(() => baselineCommand(set, path.join(fresh(), "out"), oldCache));
  if (set.kustomize) make.push(() => ({ argv: ["kubectl", "kustomize", path.join(reference, "inline", "out")], cwd: set.cwd }));
  process.stderr.write(`${set.label}: ${objects} objects, ${RUNS} rounds of ${make.length} commands\n`);
  const [node, gen, floor, ...more] = inTurns(make, RUNS);
  const old = BASELINE ? more.shift() : undefined;
  return { set, objects, gen, node, floor, kustomize: more.shift(), old };
}

/**
 * As on every save: the set changed (`change` makes each round's change), then rendered again into
 * the out/ of the run before, with the compile cache of the earlier runs; `restore` undoes it all.
 */
function runsAfterChanges(set: BenchSet, runs: number, fresh: () => string, change: (round: number) => void, restore: () => void): Sample[] {
  const out = path.join(fresh(), "out");
  const render = (): Sample => measure(renderCommand(set, out));
  try {
    render();
    return Array.from({ length: runs }, (_, round) => {
      change(round);
      return render();
    });
  } finally {
    restore();
  }
}

/** One template edited, a new edit each round. */
function editRuns(set: BenchSet, runs: number, fresh: () => string, name = "d0.yaml.hbs", edit = editTemplate): Sample[] {
  const file = path.join(set.cwd, "kubernetes-in", name);
  const original = fs.readFileSync(file, "utf8");
  return runsAfterChanges(set, runs, fresh, (round) => fs.writeFileSync(file, edit(original, round)), () => fs.writeFileSync(file, original));
}

/** A copy of the shipped set (templates and parameters) to edit: the repository's own is never touched. */
function copyOfOpenStackSet(set: BenchSet, work: string, env: NodeJS.ProcessEnv): BenchSet {
  const cwd = path.join(work, "openstack-copy");
  for (const dir of ["kubernetes-in", "params"]) fs.cpSync(path.join(REPO, dir), path.join(cwd, dir), { recursive: true });
  return { ...set, cwd, env };
}

/** A template added to the set, a new one each round. */
function addRuns(set: BenchSet, runs: number, fresh: () => string): Sample[] {
  const added: string[] = [];
  const add = (round: number): void => {
    const [name, text] = addedTemplate(round);
    added.push(path.join(set.cwd, "kubernetes-in", name));
    fs.writeFileSync(added[round], text);
  };
  return runsAfterChanges(set, runs, fresh, add, () => added.forEach((file) => fs.rmSync(file)));
}

function main(): void {
  if (!HAVE_TIME) console.error(`${TIME} (GNU time) is missing, so peak memory is not measured: apt-get install time`);
  if (!HAVE_KUBECTL) console.error("kubectl is missing: no comparison with kubectl kustomize");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "gm-bench-"));
  let made = 0;
  const fresh = (): string => path.join(work, `run-${made++}`);

  const sets: BenchSet[] = [{ label: "OpenStack set", cwd: REPO, params: "params/example.json", kustomize: HAVE_KUBECTL }];
  // A cache of their own, removed with them: the synthetic sets never fill the user's.
  const env = { GEN_MANIFESTS_CACHE_DIR: path.join(work, "cache") };
  for (const n of [100, 1000, 10000]) {
    const dir = path.join(work, `synthetic-${n}`);
    syntheticSet(dir, n);
    sets.push({ label: `${n.toLocaleString("en")} templates`, cwd: dir, params: "params.json", env, kustomize: HAVE_KUBECTL && n <= 1000 });
  }

  const copy = path.join(work, "copy.js");
  fs.writeFileSync(copy, COPY_SCRIPT);
  const diskBefore = diskCalibration(work);
  const results = sets.map((s) => benchSet(s, work, fresh, copy));
  const diskAfter = diskCalibration(work);

  // The first run after an install (a CI job after npm ci) has an empty compile cache: each run here
  // gets one, so every set compiles. Last, because filling caches is what slows this disk down; no
  // targets apply.
  const firstRun = (r: SetResult, runs: number): Sample[] =>
    Array.from({ length: runs }, () => measure(renderCommand(r.set, path.join(fresh(), "out"), { GEN_MANIFESTS_CACHE_DIR: path.join(fresh(), "cache") })));

  const seconds = (xs: Sample[]): number[] => xs.map((s) => s.seconds);
  const cpus = (xs: Sample[]): number[] => xs.map((s) => s.cpu);
  const versusOld = (xs: Sample[], old: Sample[] | undefined) => (old ? { oldCpu: pairedRatio(cpus(xs), cpus(old)), oldWall: pairedRatio(seconds(xs), seconds(old)) } : {});
  const verdict = (ok: boolean): string => (ok ? "PASS" : "FAIL");
  const [openstack, , oneK, tenK] = results;
  const rows: Row[] = [{ name: "node -e 0 (all rounds)", samples: results.flatMap((r) => r.node), ratios: { node: 1 } }];
  for (const r of results) {
    const gen: Row = {
      name: `gen-manifests: ${r.set.label}`,
      objects: r.objects,
      samples: r.gen,
      ratios: { node: pairedRatio(seconds(r.gen), seconds(r.node)), floor: pairedRatio(seconds(r.gen), seconds(r.floor)), kustomize: r.kustomize && pairedRatio(seconds(r.gen), seconds(r.kustomize)), ...versusOld(r.gen, r.old) },
    };
    rows.push(gen);
    if (r.old) rows.push({ name: `old build: ${r.set.label}`, objects: r.objects, samples: r.old, ratios: { node: pairedRatio(seconds(r.old), seconds(r.node)) } });
    if (r.kustomize) rows.push({ name: `kubectl kustomize: ${r.set.label} (same objects)`, objects: r.objects, samples: r.kustomize, ratios: { kustomize: 1, node: pairedRatio(seconds(r.kustomize), seconds(r.node)) } });
    rows.push({ name: `I/O floor: ${r.set.label} (Node writing the same files)`, objects: r.objects, samples: r.floor, ratios: { node: pairedRatio(seconds(r.floor), seconds(r.node)), floor: 1 } });
    if (r === openstack) {
      const k = gen.ratios.kustomize;
      gen.targets = `${k === undefined ? "no kubectl" : `≤ 1.0× kustomize: ${verdict(k <= 1)}`}; ≤ 1.5× node -e 0: ${verdict(gen.ratios.node! <= 1.5)}`;
    }
    if (r === tenK) {
      const wall = median(seconds(r.gen));
      const growth = wall / median(seconds(oneK.gen));
      gen.targets = `< 2 s: ${verdict(wall < 2)}; < 300 MB: ${HAVE_TIME ? verdict(Math.max(...r.gen.map((s) => s.rssMb)) < 300) : "n/a"}; t(10k)/t(1k) = ${growth.toFixed(2)} ≤ 10.5: ${verdict(growth <= 10.5)}`;
    }
  }
  process.stderr.write("first runs, each with an empty compile cache\n");
  const firstRuns = inTurns([() => renderCommand(openstack.set, path.join(fresh(), "out"), { GEN_MANIFESTS_CACHE_DIR: path.join(fresh(), "cache") }), ...(BASELINE ? [() => baselineCommand(openstack.set, path.join(fresh(), "out"), path.join(fresh(), "cache"))] : [])], RUNS);
  rows.push({ name: "gen-manifests: OpenStack set, empty cache (first run)", objects: openstack.objects, samples: firstRuns[0], ratios: versusOld(firstRuns[0], firstRuns[1]) });
  if (BASELINE) rows.push({ name: "old build: OpenStack set, empty cache (first run)", objects: openstack.objects, samples: firstRuns[1], ratios: {} });
  rows.push({ name: "gen-manifests: 10,000 templates, empty cache (first run; 1 run)", objects: tenK.objects, samples: firstRun(tenK, 1), ratios: {} });
  process.stderr.write("one template edited, then rendered again into the same out/\n");
  const openstackCopy = copyOfOpenStackSet(openstack.set, work, env);
  rows.push({ name: `gen-manifests: OpenStack set, one edited (${OPENSTACK_EDITED}), into the existing out/`, objects: openstack.objects, samples: editRuns(openstackCopy, RUNS, fresh, OPENSTACK_EDITED, editOpenStackTemplate), ratios: {} });
  for (const r of [results[1], tenK]) rows.push({ name: `gen-manifests: ${r.set.label}, one edited, into the existing out/`, objects: r.objects, samples: editRuns(r.set, RUNS, fresh), ratios: {} });
  process.stderr.write("one template added (another each round), then rendered again into the same out/\n");
  for (const r of [results[1], tenK]) rows.push({ name: `gen-manifests: ${r.set.label}, one added near the start, into the existing out/`, objects: r.objects + 1, samples: addRuns(r.set, RUNS, fresh), ratios: {} });

  if (BASELINE) {
    // What `npm ci` runs besides installing the same lockfile: the build (the old one also rendered
    // the shipped set twice to seed its cache). tsc's part is the same, and left out. Last: it rewrites dist/.
    process.stderr.write("the build's bundling step, this build and the old one\n");
    const builds = inTurns([REPO, BASELINE].map((cwd) => () => ({ argv: [process.execPath, "scripts/build.mjs"], cwd })), Math.min(RUNS, 3));
    rows.push({ name: "npm ci's build step after tsc (node scripts/build.mjs)", samples: builds[0], ratios: versusOld(builds[0], builds[1]) });
    rows.push({ name: "old build: the same step (bundle and seed)", samples: builds[1], ratios: {} });
  }

  const table = [
    `Machine: ${machine()}.`,
    `Each set: one warm-up round, then ${RUNS} rounds in which each command runs once, in turns; median wall time; peak RSS is the largest of the runs; each ratio is the median of the ratios within a round.`,
    diskLine(diskBefore, diskAfter),
    "",
    formatTable(rows),
  ].join("\n");
  console.log(table);
  const resultsFile = path.join(REPO, "bench", "results.md");
  const previous = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, "utf8") : "";
  // What follows the table (its first section heading on) is kept: what the numbers mean.
  const history = previous.includes("\n## ") ? previous.slice(previous.indexOf("\n## ")) : "";
  fs.writeFileSync(resultsFile, `# Benchmark results\n\nWritten by \`npm run bench\`.\n\n${table}\n${history}`);
  fs.rmSync(work, { recursive: true, force: true });
}

if (require.main === module) main();
