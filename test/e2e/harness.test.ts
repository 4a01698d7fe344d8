// The e2e node on a fixture of its own, before it runs OpenStack: pods with their own addresses
// on the same port, Services by name, mounts, environment, users, probes, Jobs, claims, exec, and
// nothing left running afterwards.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { missingPrerequisite, NodeHandle, startNode } from "./cluster";

const FIXTURE = path.join(__dirname, "..", "..", "test", "e2e", "fixture", "objects.yaml");
const skip = missingPrerequisite();
let node: NodeHandle;
let dir: string;

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "gen-manifests-e2e-node-"));
  node = await startNode(dir);
});

after(async () => {
  if (!node) return;
  const { leftByNode, leftInNamespace } = await node.stop();
  assert.deepEqual(leftByNode, [], "processes the node started and could not stop");
  assert.deepEqual(leftInNamespace, [], "processes left in the node's network namespace");
  if (!process.env.GEN_MANIFESTS_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

const ok = (r: { code: number; stdout: Buffer; stderr: string }, what: string): string => {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout.toString()}${r.stderr}`);
  return r.stdout.toString();
};

test("the fixture's objects are applied, its Job completes and its workloads roll out", { skip }, () => {
  const applied = ok(node.kubectl(["apply", "-f", FIXTURE]), "apply");
  assert.match(applied, /deployment\.apps\/web created/);
  assert.match(ok(node.kubectl(["apply", "-f", FIXTURE]), "apply again"), /^(?!.*(created|configured)).*$/s, "a second apply changes nothing");
  ok(node.kubectl(["rollout", "status", "--timeout=180s", "-n", "demo", "deployment/web"]), "rollout web");
  ok(node.kubectl(["rollout", "status", "--timeout=180s", "-n", "demo", "statefulset/store"]), "rollout store");
  ok(node.kubectl(["wait", "--for=condition=complete", "--timeout=240s", "-n", "demo", "job/fetch"]), "wait job");
});

test("a Secret sent with stringData is configured again at every apply, as the API server folds it into data", { skip }, () => {
  const file = path.join(dir, "string-data.yaml");
  fs.writeFileSync(file, "apiVersion: v1\nkind: Secret\nmetadata: {name: folded, namespace: demo}\nstringData: {a: b}\n");
  assert.match(ok(node.kubectl(["apply", "-f", file]), "apply"), /secret\/folded created/);
  assert.match(ok(node.kubectl(["apply", "-f", file]), "apply again"), /secret\/folded configured/);
});

test("the Job reached both pods through the Service name, a StatefulSet pod by its name, with its Secret in its environment", { skip }, () => {
  const logs = ok(node.kubectl(["logs", "-n", "demo", "job/fetch"]), "logs");
  assert.match(logs, /page: the secret page/);
  const hosts = /hosts: \[(.*)\]/.exec(logs)?.[1] ?? "";
  assert.equal(hosts.split(",").length, 2, `both pods answered behind the Service: ${hosts}`);
  assert.match(hosts, /web-\w+-0 hello/);
  assert.match(logs, /store-1: store-1/);
  assert.match(logs, /password ok: True/);
  assert.match(logs, /service env: 80 tcp/);
});

test("a container runs as its user, in its own PID namespace, with its mounts read-only where Kubernetes makes them so", { skip }, () => {
  const exec = (...cmd: string[]): string => ok(node.kubectl(["exec", "-n", "demo", "deployment/web", "--", ...cmd]), cmd.join(" "));
  assert.equal(exec("id", "-u").trim(), "65534");
  assert.equal(exec("cat", "/etc/web/password"), "p $a%s#s; \"'  ");
  assert.equal(exec("stat", "-c", "%a", "/etc/web/index.html").trim(), "444");
  assert.notEqual(node.kubectl(["exec", "-n", "demo", "deployment/web", "--", "sh", "-c", "echo x > /etc/web/new"]).code, 0, "a Secret volume is read-only");
  const pids = exec("sh", "-c", "ls /proc | grep -c '^[0-9]'");
  assert.ok(Number(pids) < 10, `few processes are visible in the pod: ${pids}`);
  assert.match(exec("cat", "/etc/hosts"), /198\.19\.0\.\d+\tweb\.demo\.svc\.cluster\.local/);
  const echoed = node.kubectl(["exec", "-i", "-n", "demo", "deployment/web", "--", "sh", "-c", "cat | wc -c"], Buffer.alloc(100000, 1));
  assert.equal(ok(echoed, "exec -i").trim(), "100000");
});

test("a claim of a StatefulSet keeps its data when its pods are replaced", { skip }, () => {
  ok(node.kubectl(["exec", "-n", "demo", "pod/store-0", "--", "sh", "-c", "echo kept > /data/note"]), "write");
  ok(node.kubectl(["delete", "-n", "demo", "statefulset/store"]), "delete");
  ok(node.kubectl(["apply", "-f", FIXTURE]), "apply");
  ok(node.kubectl(["rollout", "status", "--timeout=180s", "-n", "demo", "statefulset/store"]), "rollout store");
  assert.equal(ok(node.kubectl(["exec", "-n", "demo", "pod/store-0", "--", "cat", "/data/note"]), "read").trim(), "kept");
});

test("a failing Job is reported by kubectl wait; a changed Job template is refused as immutable", { skip }, () => {
  const failing = path.join(dir, "failing.yaml");
  const job = (cmd: string): string =>
    `apiVersion: batch/v1\nkind: Job\nmetadata: {name: failing, namespace: demo}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: e2e.invalid/test/base:fixture, command: [sh, -c, '${cmd}']}]\n`;
  fs.writeFileSync(failing, job("exit 3"));
  ok(node.kubectl(["apply", "-f", failing]), "apply");
  const waited = node.kubectl(["wait", "--for=condition=complete", "--timeout=30s", "-n", "demo", "job/failing"]);
  assert.equal(waited.code, 1);
  assert.match(waited.stderr, /BackoffLimitExceeded.*exited with 3/);
  fs.writeFileSync(failing, job("exit 0"));
  const changed = node.kubectl(["apply", "-f", failing]);
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /field is immutable/);
});

test("a container whose image is not built by images/, or is not pinned, does not start", { skip }, () => {
  const bad = path.join(dir, "bad.yaml");
  fs.writeFileSync(bad, `apiVersion: batch/v1\nkind: Job\nmetadata: {name: unbuilt, namespace: demo}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: 'e2e.invalid/test/nonesuch:1', command: ['true']}]\n`);
  ok(node.kubectl(["apply", "-f", bad]), "apply");
  const waited = node.kubectl(["wait", "--for=condition=complete", "--timeout=30s", "-n", "demo", "job/unbuilt"]);
  assert.match(waited.stderr, /no images\/nonesuch\/Dockerfile builds it/);
});
