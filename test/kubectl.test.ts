// The committed out/ as the real kubectl of this machine reads it. There is no cluster: kustomize
// runs offline, and `kubectl apply --dry-run=client` needs only API discovery (to map each kind to
// its resource) and a GET per object, which a stand-in API server on loopback answers from the
// folder's own objects (every GET of an object is "not found", so each would be created).
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { REPO } from "./helpers";

const OUT = path.join(REPO, "out");
const hasKubectl = spawnSync("kubectl", ["version", "--client"]).status === 0;
const manifests = fs.readdirSync(OUT).filter((f) => /^\d\d-.*\.yaml$/.test(f));
const objects = manifests.map((f) => yaml.load(fs.readFileSync(path.join(OUT, f), "utf8")) as { apiVersion: string; kind: string });

/** Discovery for the folder's own kinds (the legacy, unaggregated form, which kubectl still reads). */
function discoveryServer(): http.Server {
  const groups = new Map<string, Set<string>>();
  for (const o of objects) groups.set(o.apiVersion, (groups.get(o.apiVersion) ?? new Set()).add(o.kind));
  const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"]);
  const bodies = new Map<string, unknown>();
  bodies.set("/api", { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
  const named = [...groups.keys()].filter((v) => v.includes("/"));
  bodies.set("/apis", {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: named.map((gv) => ({ name: gv.split("/")[0], versions: [{ groupVersion: gv, version: gv.split("/")[1] }], preferredVersion: { groupVersion: gv, version: gv.split("/")[1] } })),
  });
  for (const [gv, kinds] of groups) {
    bodies.set(gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`, {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources: [...kinds].map((kind) => ({ name: `${kind.toLowerCase()}s`, singularName: kind.toLowerCase(), namespaced: !clusterScoped.has(kind), kind, verbs: ["create", "get", "list", "patch", "delete"] })),
    });
  }
  return http.createServer((req, res) => {
    const body = bodies.get((req.url ?? "").split("?")[0]);
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }));
  });
}

/** kubectl against the stand-in server; asynchronous, so that the server in this process can answer. */
function kubectl(server: string, ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("kubectl", ["--server", server, ...args], { cwd: REPO, env: { ...process.env, KUBECONFIG: "/dev/null" } }, (e, stdout, stderr) =>
      resolve({ status: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("out/ with the real kubectl: `apply -f` and `apply -k` are both clean", { skip: !hasKubectl && "kubectl is not installed" }, () => {
  let server: http.Server;
  let url = "";
  before(async () => {
    server = discoveryServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it("kubectl kustomize out/ builds every object, with nothing on stderr (the way Argo CD and Flux read it)", () => {
    const r = spawnSync("kubectl", ["kustomize", OUT], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const kinds = yaml.loadAll(r.stdout).map((o) => (o as { kind: string }).kind);
    assert.equal(kinds.length, manifests.length);
    assert.equal(kinds[0], "Namespace");
  });

  it("kubectl apply -f out/ applies every object and nothing else (the kustomization is skipped)", async () => {
    const r = await kubectl(url, "apply", "--dry-run=client", "--validate=false", "-o", "name", "-f", "out/");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout.trim().split("\n").length, manifests.length);
  });

  it("kubectl apply -k out/ applies every object with no warning (no sort order set twice)", async () => {
    const r = await kubectl(url, "apply", "--dry-run=client", "--validate=false", "-o", "name", "-k", "out/");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout.trim().split("\n").length, manifests.length);
  });
});
