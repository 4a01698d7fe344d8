// npm run bench: gen-manifests against `kubectl kustomize` (a Go program) and `node -e 0` (the floor
// of any Node tool), on the shipped OpenStack set and on synthetic sets of 100, 1,000 and 10,000
// templates, each a new process as a user runs it. Median of N runs after a warm-up; peak RSS from
// GNU time. Prints a markdown table and writes it to bench/results.md.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const REPO = path.resolve(__dirname, "..", "..");
const CLI = path.join(REPO, "dist", "gen-manifests.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const TIME = "/usr/bin/time";

interface Sample {
  seconds: number;
  rssMb: number;
}

/** One run of a command: wall time, and peak RSS as GNU time reports it. */
const HAVE_TIME = fs.existsSync(TIME);

function measure(argv: string[], cwd: string, env?: NodeJS.ProcessEnv): Sample {
  const started = process.hrtime.bigint();
  const options = { cwd, env: { ...process.env, ...env }, encoding: "utf8" as const, maxBuffer: 1 << 28 };
  // GNU time adds ~1 ms to every command alike; without it, peak RSS is reported as unknown.
  const r = HAVE_TIME ? spawnSync(TIME, ["-f", "%M", ...argv], options) : spawnSync(argv[0], argv.slice(1), options);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed:\n${r.stderr.slice(-2000)}`);
  const rssKb = HAVE_TIME ? Number(r.stderr.trim().split("\n").pop()) : NaN;
  return { seconds, rssMb: rssKb / 1024 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row {
  name: string;
  objects: number;
  seconds: number;
  rssMb: number;
}

interface Run {
  argv: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** Warm-up, then RUNS runs; `prepare` gives each run a fresh argument list (a new output folder). */
function bench(name: string, objects: number, prepare: (i: number) => Run, runs = RUNS, warmUp = true): Row {
  if (warmUp) {
    const first = prepare(-1);
    measure(first.argv, first.cwd, first.env);
  }
  const samples = Array.from({ length: runs }, (_, i) => {
    const { argv, cwd, env } = prepare(i);
    return measure(argv, cwd, env);
  });
  return { name, objects, seconds: median(samples.map((s) => s.seconds)), rssMb: Math.max(...samples.map((s) => s.rssMb)) };
}

/** Deployments, Services, Secrets and Jobs in the proportions of a real control plane. */
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

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).stdout.split("\n")[0];
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${kubectl}`;
}

function main(): void {
  if (!HAVE_TIME) console.error(`${TIME} (GNU time) is missing, so peak memory is not measured: apt-get install time`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "gm-bench-"));
  const fresh = (i: number) => path.join(work, `run-${process.hrtime.bigint()}-${i}`);
  const rows: Row[] = [];

  const openstackOut = path.join(work, "openstack-out");
  const render = spawnSync(process.execPath, [CLI, "--params", "params/example.json", "--out", openstackOut, "--inline-secrets", "--quiet"], { cwd: REPO, encoding: "utf8" });
  if (render.status !== 0) throw new Error(render.stderr);
  const objects = fs.readdirSync(openstackOut).filter((f) => /^\d\d-/.test(f)).length;

  rows.push(bench("node -e 0", 0, () => ({ argv: [process.execPath, "-e", "0"], cwd: REPO })));
  rows.push(bench("gen-manifests: OpenStack set", objects, (i) => ({ argv: [process.execPath, CLI, "--params", "params/example.json", "--out", path.join(fresh(i), "out"), "--quiet"], cwd: REPO })));
  rows.push(bench("kubectl kustomize out/ (same objects)", objects, () => ({ argv: ["kubectl", "kustomize", openstackOut], cwd: REPO })));
  const diskBefore = diskCalibration(work);
  for (const n of [100, 1000, 10000]) {
    const dir = path.join(work, `synthetic-${n}`);
    syntheticSet(dir, n);
    // A cache of their own, removed with them: the synthetic sets never fill the user's.
    const env = { GEN_MANIFESTS_CACHE_DIR: path.join(work, "cache") };
    rows.push(bench(`gen-manifests: ${n.toLocaleString("en")} templates`, n, (i) => ({ argv: [process.execPath, CLI, "--params", "params.json", "--out", path.join(fresh(i), "out"), "--quiet"], cwd: dir, env })));
  }

  const diskAfter = diskCalibration(work);
  // The first run after an install or a build has no compile cache: each run here gets an empty one.
  // Last, because filling caches is what slows this disk down; no targets apply.
  const coldCache = (i: number) => ({ GEN_MANIFESTS_CACHE_DIR: path.join(fresh(i), "cache") });
  rows.push(bench("gen-manifests: OpenStack set, empty cache (first run)", objects, (i) => ({ argv: [process.execPath, CLI, "--params", "params/example.json", "--out", path.join(fresh(i), "out"), "--quiet"], cwd: REPO, env: coldCache(i) }), RUNS, false));
  const dir10k = path.join(work, "synthetic-10000");
  rows.push(bench("gen-manifests: 10,000 templates, empty cache (first run; 1 run)", 10000, (i) => ({ argv: [process.execPath, CLI, "--params", "params.json", "--out", path.join(fresh(i), "out"), "--quiet"], cwd: dir10k, env: coldCache(i) }), 1, false));
  const by = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!;
  const gen = by("gen-manifests: OpenStack");
  const kustomize = by("kubectl kustomize");
  const floor = by("node -e 0");
  const t1k = by("gen-manifests: 1,000");
  const t10k = by("gen-manifests: 10,000 templates");
  const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
  const targets: Record<string, string> = {
    [gen.name]: `≤ 1.0× kustomize: ${(gen.seconds / kustomize.seconds).toFixed(2)}× ${verdict(gen.seconds <= kustomize.seconds)}; ≤ 1.5× node -e 0: ${(gen.seconds / floor.seconds).toFixed(2)}× ${verdict(gen.seconds <= 1.5 * floor.seconds)}`,
    [t10k.name]: `< 2 s: ${verdict(t10k.seconds < 2)}; < 300 MB: ${verdict(t10k.rssMb < 300)}; t(10k)/t(1k) = ${(t10k.seconds / t1k.seconds).toFixed(2)} ≤ 10.5: ${verdict(t10k.seconds / t1k.seconds <= 10.5)}`,
  };
  const lines = [
    `Machine: ${machine()}. Median of ${RUNS} runs after a warm-up; peak RSS is the largest of the runs.`,
    `Disk: a plain Node loop wrote 10,000 files of 500 bytes in ${diskBefore.toFixed(0)} ms before the synthetic sets and ${diskAfter.toFixed(0)} ms after (about 250 ms when the disk is calm).`,
    "",
    "| what | objects | median wall | peak RSS | objects/s | ÷ kustomize | ÷ node -e 0 | targets |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
    ...rows.map((r) =>
      [
        r.name,
        r.objects || "",
        `${(r.seconds * 1000).toFixed(0)} ms`,
        Number.isNaN(r.rssMb) ? "n/a" : `${r.rssMb.toFixed(0)} MB`,
        r.objects ? Math.round(r.objects / r.seconds).toLocaleString("en") : "",
        `${(r.seconds / kustomize.seconds).toFixed(2)}×`,
        `${(r.seconds / floor.seconds).toFixed(2)}×`,
        targets[r.name] ?? "",
      ].join(" | ").replace(/^/, "| ").replace(/$/, " |"),
    ),
  ];
  const table = lines.join("\n");
  console.log(table);
  const resultsFile = path.join(REPO, "bench", "results.md");
  const previous = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, "utf8") : "";
  const history = previous.includes("\n## What each change bought") ? previous.slice(previous.indexOf("\n## What each change bought")) : "";
  fs.writeFileSync(resultsFile, `# Benchmark results\n\nWritten by \`npm run bench\`.\n\n${table}\n${history}`);
  fs.rmSync(work, { recursive: true, force: true });
}

if (require.main === module) main();
