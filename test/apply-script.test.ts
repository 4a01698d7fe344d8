// apply.sh, run against a stand-in kubectl on PATH that records its calls. No cluster needed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { makeChart, REPO, runCliHere, SECRET_TEMPLATE, secretText, tmpDir, WEB_TEMPLATE } from "./helpers";

const JOB_TEMPLATE = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{name}}-migrate
  namespace: apps
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: migrate
          image: busybox:1.36
`;
const NS = (t: string): string => t.replace(/metadata:\n {2}name: (.*)\n/g, "metadata:\n  name: $1\n  namespace: apps\n");

/** A stand-in kubectl: records each call's arguments, one line per call; fails where told. */
function fakeKubectl(): { bin: string; log: string } {
  const dir = tmpDir("gm-kubectl-");
  const log = path.join(dir, "calls.log");
  const bin = path.join(dir, "kubectl");
  fs.writeFileSync(
    bin,
    `#!/bin/sh
printf '%s\\n' "$*" >> "${log}"
case "$1" in
  wait) [ -n "\${FAIL_WAIT:-}" ] && exit 1 ;;
  get)
    [ -n "\${FAIL_GET:-}" ] && exit 1
    # Namespaced listings (-n) see LIVE_OBJECTS, cluster-wide ones LIVE_CLUSTER_OBJECTS.
    case " $* " in
      *" -n "*) [ -n "\${LIVE_OBJECTS:-}" ] && printf '%s\\n' $LIVE_OBJECTS ;;
      *) [ -n "\${LIVE_CLUSTER_OBJECTS:-}" ] && printf '%s\\n' $LIVE_CLUSTER_OBJECTS ;;
    esac ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  return { bin: dir, log };
}

function renderedChart(): string {
  const cwd = makeChart({ "web.yaml.hbs": NS(WEB_TEMPLATE), "secret.yaml.hbs": NS(SECRET_TEMPLATE), "job.yaml.hbs": JOB_TEMPLATE }, { name: "web", password: "p" });
  const r = runCliHere(["--params", "params.json"], { cwd });
  assert.equal(r.status, 0, r.all);
  return cwd;
}

function applyScript(cwd: string, args: string[], env: Record<string, string> = {}, outDir = "out") {
  const kubectl = fakeKubectl();
  const r = spawnSync("sh", [path.join(cwd, outDir, "apply.sh"), ...args], { cwd: tmpDir(), encoding: "utf8", env: { ...process.env, PATH: `${kubectl.bin}:${process.env.PATH}`, ...env } });
  const calls = fs.existsSync(kubectl.log) ? fs.readFileSync(kubectl.log, "utf8").trim().split("\n") : [];
  // Paths differ per run: keep only file names.
  return { ...r, calls: calls.map((c) => c.replace(/\S*\/(out|secrets)\//g, "$1/")) };
}

describe("apply.sh", () => {
  it("passes shellcheck (POSIX sh)", (t) => {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) return t.skip("shellcheck is not installed (.ci/run installs it)");
    const r = spawnSync("shellcheck", ["--shell=sh", path.join(REPO, "out", "apply.sh"), path.join(renderedChart(), "out", "apply.sh")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
  });

  it("applies phase by phase, secrets first from their folder, waits for jobs after their phase and for rollouts at the end", () => {
    const r = applyScript(renderedChart(), ["--context", "prod"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls.map((c) => c.replace(/web-migrate-[0-9a-f]{8}/, "web-migrate-HASH")), [
      "apply -f secrets/20-secret-web-secret.yaml --context prod",
      "apply -f out/50-service-web.yaml --context prod",
      "apply -f out/60-job-web-migrate.yaml --context prod",
      "wait --for=condition=complete --timeout=600s -n apps job/web-migrate-HASH --context prod",
      "apply -f out/70-deployment-web.yaml --context prod",
      "rollout status --timeout=600s -n apps deployment/web --context prod",
    ]);
  });

  it("--help prints its own help, and calls no kubectl", () => {
    const cwd = renderedChart();
    for (const flag of ["--help", "-h"]) {
      const r = applyScript(cwd, ["--context", "prod", flag]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: apply\.sh \[--dry-run\] \[--prune\] \[kubectl options\] \[-- kubectl arguments\]\n/);
      assert.match(r.stdout, /--prune {9}delete objects/);
      assert.ok(r.stdout.split("\n").length < 30, "a screen, not kubectl's help");
      assert.deepEqual(r.calls, []);
    }
  });

  const usageCases: { args: string[]; error: string }[] = [
    { args: ["--prun"], error: "unknown option --prun" },
    { args: ["--dry-run", "-f", "x.yaml"], error: "unknown option -f" },
    { args: ["--namespace", "other"], error: "unknown option --namespace" },
    { args: ["--context"], error: "--context needs a value" },
    { args: ["prod"], error: "unexpected argument prod (apply.sh applies the folder it is in)" },
  ];
  for (const c of usageCases) {
    it(`a usage mistake is exit 2 before anything is applied: ${c.args.join(" ")}`, () => {
      const r = applyScript(renderedChart(), c.args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `apply.sh: ${c.error}; see apply.sh --help\n`);
      assert.deepEqual(r.calls, []);
    });
  }

  it("passes kubectl's global options, in both spellings, and anything after --, to every call", () => {
    const r = applyScript(renderedChart(), ["--dry-run", "--kubeconfig", "/k", "--context=prod", "-v=2", "--insecure-skip-tls-verify", "--", "--field-manager", "ops"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.length > 0);
    for (const c of r.calls) assert.ok(c.endsWith(" --kubeconfig /k --context=prod -v=2 --insecure-skip-tls-verify --field-manager ops"), c);
  });

  it("honours KUBECTL and WAIT_TIMEOUT", () => {
    const kubectl = fakeKubectl();
    const r = applyScript(renderedChart(), [], { KUBECTL: path.join(kubectl.bin, "kubectl"), PATH: "/usr/bin:/bin", WAIT_TIMEOUT: "30s" });
    assert.equal(r.status, 0, r.stderr);
    const calls = fs.readFileSync(kubectl.log, "utf8");
    assert.match(calls, /^wait --for=condition=complete --timeout=30s -n apps job\/web-migrate-[0-9a-f]{8}$/m);
  });

  it("--dry-run passes --dry-run=server to every apply and waits for nothing", () => {
    const r = applyScript(renderedChart(), ["--dry-run", "--context", "x"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.length === 4);
    for (const c of r.calls) assert.match(c, /^apply --dry-run=server -f \S+ --context x$/);
  });

  it("a job that does not complete stops the rollout with a message naming it", () => {
    const r = applyScript(renderedChart(), [], { FAIL_WAIT: "1" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /apply\.sh: Job apps\/web-migrate-[0-9a-f]{8} did not complete within 600s; see: kubectl logs -n apps job\/web-migrate-[0-9a-f]{8}\n/);
    assert.ok(!r.calls.some((c) => c.includes("70-deployment")), "nothing after the failed job is applied");
  });

  it("fails clearly when the secrets folder is missing", () => {
    const cwd = renderedChart();
    fs.rmSync(path.join(cwd, "secrets"), { recursive: true });
    const r = applyScript(cwd, []);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /secrets folder .* is missing/);
    assert.deepEqual(r.calls.map((c) => c.replace(/web-migrate-[0-9a-f]{8}/, "web-migrate-HASH")), []);
  });

  it("re-running it makes the same calls (apply is idempotent)", () => {
    const cwd = renderedChart();
    assert.deepEqual(applyScript(cwd, []).calls, applyScript(cwd, []).calls);
  });

  it("--prune deletes managed objects that are no longer rendered, and nothing else", () => {
    const r = applyScript(renderedChart(), ["--prune"], { LIVE_OBJECTS: "Deployment/apps/web Deployment/apps/old-api Service/apps/old-api" });
    assert.equal(r.status, 0, r.stderr);
    const deletes = r.calls.filter((c) => c.startsWith("delete"));
    assert.deepEqual(deletes, ["delete --ignore-not-found -n apps Deployment/old-api", "delete --ignore-not-found -n apps Service/old-api"]);
    assert.ok(r.calls.some((c) => c.startsWith("get ") && c.includes("-l app.kubernetes.io/managed-by=gen-manifests") && c.includes("-n apps")));
  });

  it("--prune lists every kind rendered now (a custom resource) besides the usual ones, and never cluster-wide objects", () => {
    const widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: apps\nspec: {}\n";
    const role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n";
    const cwd = makeChart({ "web.yaml.hbs": NS(WEB_TEMPLATE), "widget.yaml.hbs": widget, "role.yaml.hbs": role }, { name: "web", password: "p" });
    assert.equal(runCliHere(["--params", "params.json"], { cwd }).status, 0);
    const r = applyScript(cwd, ["--prune"], { LIVE_OBJECTS: "Widget/apps/w Widget/apps/old", LIVE_CLUSTER_OBJECTS: "ClusterRole//reader ClusterRole//old-reader" });
    assert.equal(r.status, 0, r.stderr);
    const gets = r.calls.filter((c) => c.startsWith("get "));
    assert.equal(gets.length, 1, gets.join("\n"));
    assert.match(gets[0], / -n apps /);
    const kinds = gets[0].split(" ")[1].split(",");
    for (const k of ["widget.example.com", "deployment.apps", "service", "ingress.networking.k8s.io", "persistentvolumeclaim"]) assert.ok(kinds.includes(k), `${k} in ${gets[0]}`);
    assert.ok(!kinds.some((k) => k.startsWith("clusterrole")), "a cluster-wide kind is not listed");
    assert.equal(new Set(kinds).size, kinds.length, "each kind listed once");
    assert.deepEqual(r.calls.filter((c) => c.startsWith("delete")), ["delete --ignore-not-found -n apps Widget/old"]);
  });

  it("--prune stops, deleting nothing, when the managed objects cannot be listed", () => {
    const r = applyScript(renderedChart(), ["--prune"], { LIVE_OBJECTS: "Deployment/apps/old-api", FAIL_GET: "1" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /could not list the managed objects in namespace apps; nothing more was pruned/);
    assert.deepEqual(r.calls.filter((c) => c.startsWith("delete")), []);
    assert.ok(!r.calls.some((c) => c.startsWith("rollout")), "no rollout wait after a failed prune");
  });

  it("the shipped set applies namespace, secrets, services, jobs (each waited for), then workloads, then the jobs that need them", () => {
    const kubectl = fakeKubectl();
    const cwd = tmpDir();
    const rendered = runCliHere(["--params", path.join(REPO, "params/example.json"), "--templates", path.join(REPO, "kubernetes-in"), "--out", path.join(cwd, "out")], { cwd });
    assert.equal(rendered.status, 0, rendered.all);
    const r = spawnSync("sh", [path.join(cwd, "out", "apply.sh")], { encoding: "utf8", env: { ...process.env, PATH: `${kubectl.bin}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stderr);
    const calls = fs.readFileSync(kubectl.log, "utf8").trim().split("\n").map((c) => c.split(" ")[0] + " " + (/(\d\d)-/.exec(c)?.[1] ?? c.split(" ")[1]));
    const steps = calls.filter((c, i) => !c.startsWith("wait") || !calls[i - 1].startsWith("wait")).map((c) => (c.startsWith("wait") ? "wait" : c));
    // Databases (55) only when a database administrator's password is given; keystone's bootstrap
    // after the migrations (65), the catalog once keystone runs (75).
    assert.deepEqual(steps.slice(0, 10), ["apply 00", "apply 20", "apply 50", "apply 60", "wait", "apply 65", "wait", "apply 70", "apply 75", "wait"]);
    assert.equal(calls.filter((c) => c.startsWith("wait")).length, 8);
    assert.equal(calls.filter((c) => c.startsWith("rollout")).length, 17);
  });

  describe("refuses, before applying anything, an out/ and a secrets folder that two runs wrote", () => {
    /** A second rendering of the same chart with another password and one more object: another run's folders. */
    function otherRun(cwd: string): string {
      const other = tmpDir("gm-other-run-");
      fs.cpSync(cwd, other, { recursive: true });
      fs.writeFileSync(path.join(other, "params.json"), JSON.stringify({ name: "web", password: "another" }));
      fs.appendFileSync(path.join(other, "kubernetes-in", "web.yaml.hbs"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n  namespace: apps\n");
      const r = runCliHere(["--params", "params.json"], { cwd: other });
      assert.equal(r.status, 0, r.all);
      return other;
    }
    const swapIn = (from: string, to: string): void => {
      fs.rmSync(to, { recursive: true, force: true });
      fs.cpSync(from, to, { recursive: true });
    };
    const cases: { name: string; mix(cwd: string, other: string): Record<string, string> | void; says?: RegExp }[] = [
      { name: "the secrets folder of another run", mix: (cwd, other) => swapIn(path.join(other, "secrets"), path.join(cwd, "secrets")) },
      { name: "out/ of another run (restored from git, say) beside this run's secrets", mix: (cwd, other) => swapIn(path.join(other, "out"), path.join(cwd, "out")) },
      { name: "GEN_MANIFESTS_SECRETS_DIR pointing at another run's secrets", mix: (_, other) => ({ GEN_MANIFESTS_SECRETS_DIR: path.join(other, "secrets") }), says: /^apply\.sh: \S*secrets holds the Secrets of \S*\/out, another output folder: render this one again, or set GEN_MANIFESTS_SECRETS_DIR to its own secrets folder; nothing was applied\n$/ },
      { name: "a secrets folder with no marker (written by hand, or by an older version)", mix: (cwd) => fs.rmSync(path.join(cwd, "secrets", ".gen-manifests")) },
      { name: "an out/ whose marker names no run", mix: (cwd) => fs.writeFileSync(path.join(cwd, "out", ".gen-manifests"), "This folder is generated by gen-manifests and replaced on every run. Do not edit it.\n") },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const cwd = renderedChart();
        assert.equal(applyScript(cwd, ["--dry-run"]).status, 0, "the pair as written applies");
        const env = c.mix(cwd, otherRun(cwd)) ?? {};
        const r = applyScript(cwd, [], env);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, c.says ?? /^apply\.sh: \S*secrets was not written with this folder \(another run of gen-manifests, or restored apart from it\): run gen-manifests again; nothing was applied\n$/);
        assert.deepEqual(r.calls, [], "nothing applied");
      });
    }

    it("the same out/ rendered again (same inputs) with its secrets folder is one pair", () => {
      const cwd = renderedChart();
      const again = tmpDir("gm-same-run-");
      fs.cpSync(cwd, again, { recursive: true });
      fs.rmSync(path.join(again, "secrets"), { recursive: true });
      assert.equal(runCliHere(["--params", "params.json"], { cwd: again }).status, 0);
      assert.equal(applyScript(cwd, ["--dry-run"], { GEN_MANIFESTS_SECRETS_DIR: path.join(again, "secrets") }).status, 0);
    });
  });

  describe("each output folder has its own secrets folder: --out prod then --out staging", () => {
    /** Two renders in one folder, the second with another password (another cluster's Secrets). */
    function twoRenders(extra: string[] = []): { cwd: string; staging: ReturnType<typeof runCliHere> } {
      const cwd = renderedChart();
      assert.equal(runCliHere(["--params", "params.json", "--out", "prod", ...extra], { cwd }).status, 0);
      const staging = runCliHere(["--params", "params.json", "--set", "password=staging-only", "--out", "staging", ...extra], { cwd });
      return { cwd, staging };
    }

    it("by default each gets its own (prod-secrets/, staging-secrets/; out/ keeps secrets/), and prod/apply.sh applies prod's Secrets", () => {
      const { cwd, staging } = twoRenders();
      assert.equal(staging.status, 0, staging.all);
      assert.match(staging.stdout, /→ staging\/ and staging-secrets\//);
      const secretFile = (d: string): string | undefined => fs.readdirSync(path.join(cwd, d)).find((f) => f.endsWith("-secret-web-secret.yaml"));
      for (const d of ["secrets", "prod-secrets", "staging-secrets"]) assert.ok(secretFile(d), d);
      const password = (dir: string): string => secretText(yaml.load(fs.readFileSync(path.join(cwd, dir, secretFile(dir)!), "utf8"))).password;
      assert.equal(password("staging-secrets"), "staging-only");
      assert.notEqual(password("prod-secrets"), "staging-only");
      const prod = applyScript(cwd, [], {}, "prod");
      assert.equal(prod.status, 0, prod.stderr);
      const applied = prod.calls.filter((c) => c.startsWith("apply")).join(" ");
      assert.match(applied, /prod-secrets\/\S*-secret-web-secret\.yaml/);
      assert.doesNotMatch(applied, /staging/);
    });

    it("one secrets folder named for both: the second render refuses and leaves prod's Secrets as they were", () => {
      const { cwd, staging } = twoRenders(["--secrets-out", "shared"]);
      assert.equal(staging.status, 1, staging.all);
      assert.match(staging.stderr, /shared: holds the Secrets of the output folder prod, not of staging; refusing to replace them\. Give each output its own secrets folder \(--secrets-out\), or remove shared first/);
      assert.ok(!fs.existsSync(path.join(cwd, "staging")), "nothing written");
      assert.equal(applyScript(cwd, ["--dry-run"], {}, "prod").status, 0, "prod's pair still applies");
    });

    it("apply.sh pointed at another output's secrets says whose they are, and applies nothing", () => {
      const { cwd } = twoRenders();
      const r = applyScript(cwd, [], { GEN_MANIFESTS_SECRETS_DIR: path.join(cwd, "staging-secrets") }, "prod");
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^apply\.sh: \S*staging-secrets holds the Secrets of \S*\/staging, another output folder: render this one again, or set GEN_MANIFESTS_SECRETS_DIR to its own secrets folder; nothing was applied\n$/);
      assert.deepEqual(r.calls, []);
    });
  });
});
