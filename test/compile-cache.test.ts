// The compile cache only ever saves time: cold, warm, damaged or disabled, the output is the same.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { makeChart, runCli, SECRET_TEMPLATE, snapshot, tmpDir, WEB_TEMPLATE } from "./helpers";

const SENTINEL = "CACHE-SENTINEL-secret";

function renderWith(cwd: string, env: Record<string, string>, out: string): Record<string, string> {
  const r = runCli(["--params", "params.json", "--out", out, "--quiet"], { cwd, env });
  assert.equal(r.status, 0, r.all);
  return snapshot(path.join(cwd, out));
}

describe("compile cache", () => {
  it("gives the same bytes cold, warm, with damaged entries, and disabled; and holds no secret", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const cold = renderWith(cwd, env, "cold/out");
    const entries = fs.readdirSync(cacheDir);
    assert.ok(entries.length >= 3, `entries written: ${entries.join(", ")}`);
    for (const e of entries) assert.ok(!fs.readFileSync(path.join(cacheDir, e), "utf8").includes(SENTINEL), "no secret in the cache");
    assert.deepEqual(renderWith(cwd, env, "warm/out"), cold);
    for (const e of entries) fs.writeFileSync(path.join(cacheDir, e), "this is not code {");
    assert.deepEqual(renderWith(cwd, env, "damaged/out"), cold);
    const offDir = tmpDir("gm-cache-off-");
    assert.deepEqual(renderWith(cwd, { GEN_MANIFESTS_CACHE: "off", GEN_MANIFESTS_CACHE_DIR: offDir }, "off/out"), cold);
    assert.deepEqual(fs.readdirSync(offDir), []);
  });

  it("keeps V8's compiled code of the CLI and of the templates, and a warm run only reads it", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const cold = renderWith(cwd, env, "cold/out");
    const codeCaches = () => fs.readdirSync(cacheDir).filter((e) => /^v8-[0-9a-f]{64}\.bin$/.test(e)).sort();
    // One for the CLI's render command, one for the chunk of templates.
    assert.equal(codeCaches().length, 2, fs.readdirSync(cacheDir).join(", "));
    const stamp = (names: string[]) => names.map((e) => `${e} ${fs.statSync(path.join(cacheDir, e)).mtimeMs}`);
    const before = stamp(fs.readdirSync(cacheDir).sort());
    assert.deepEqual(renderWith(cwd, env, "warm/out"), cold);
    assert.deepEqual(stamp(fs.readdirSync(cacheDir).sort()), before, "a warm run writes nothing to the cache");
    // Another command compiles other functions: it gets an entry of its own.
    const plan = runCli(["plan", "--params", "params.json"], { cwd, env });
    assert.equal(plan.status, 0, plan.all);
    assert.equal(codeCaches().length, 3);
  });

  it("is never stale: a changed template or schema is compiled afresh", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const env = { GEN_MANIFESTS_CACHE_DIR: tmpDir("gm-cache-") };
    renderWith(cwd, env, "out");
    fs.writeFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), WEB_TEMPLATE.replace("image: nginx:1.27", "image: nginx:1.28"));
    const after = renderWith(cwd, env, "out");
    assert.match(after["70-deployment-web.yaml"], /image: nginx:1\.28/);
    // An undeclared parameter is caught even when the rest of the set was cached.
    fs.writeFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), WEB_TEMPLATE.replace("image: nginx:1.27", "image: nginx:{{tag}}"));
    const r = runCli(["--params", "params.json", "--quiet"], { cwd, env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /"tag" is not a declared parameter/);
  });
});
