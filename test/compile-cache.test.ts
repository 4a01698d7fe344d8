// The compile cache only ever saves time: cold, warm, damaged or disabled, the output is the same.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { pruneCompileCache, sealEntry } from "../src/compile-cache";
import { makeChart, memoryCache, problemsOf, renderInMemory, REPO, runCli, SECRET_TEMPLATE, snapshot, TEST_SCHEMA, tmpDir, WEB_TEMPLATE } from "./helpers";

const SENTINEL = "CACHE-SENTINEL-secret";

function renderWith(cwd: string, env: Record<string, string>, out: string, cli?: string): Record<string, string> {
  const r = runCli(["--params", "params.json", "--out", out, "--quiet"], { cwd, env, cli });
  assert.equal(r.status, 0, r.all);
  return snapshot(path.join(cwd, out));
}

/** A copy of the built CLI (its bundle may then be changed); returns the copy's CLI. */
function copyOfCli(): string {
  const root = tmpDir("gm-package-");
  fs.mkdirSync(path.join(root, "dist"));
  for (const f of ["dist/gen-manifests.js", "dist/gen-manifests.bundle.js", "package.json"]) fs.copyFileSync(path.join(REPO, f), path.join(root, f));
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"));
  return path.join(root, "dist", "gen-manifests.js");
}

describe("compile cache: a hit renders what a miss does", () => {
  const cm = (name: string, extra = "") => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  labels:\n    {{> labels}}\ndata:\n  who: {{name}}\n${extra}`;
  const widget = (name: string, body: string) => `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: ${name}\nspec:\n${body}`;
  const TEMPLATES: Record<string, string> = {
    "_labels.hbs": "app: {{name}}\n",
    "a.yaml.hbs": cm("a"),
    "b.yaml.hbs": cm("b"),
    "c.yaml.hbs": widget("c", "  replicas: {{replicas}}\n{{#if flag}}  flagged: true\n{{/if}}"),
    // What JSON cannot give back exactly: -0, infinities, NaN, and nodes an alias shares.
    "odd.yaml.hbs": widget("odd", "  zero: -0\n  big: .inf\n  small: -.inf\n  nan: .nan\n  base: &b {k: '{{name}}' }\n  copy: *b\n"),
    "s.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {{password}}\n",
  };
  const PARAMS = { name: "NAME-SENTINEL", password: "PASSWORD-SENTINEL", replicas: 7357 };
  type Run = { templates?: Record<string, string>; params?: Record<string, unknown>; cache?: ReturnType<typeof memoryCache> };
  const render = (run: Run = {}) => renderInMemory({ templates: run.templates ?? TEMPLATES, params: run.params ?? PARAMS, cache: run.cache }).trees;

  /** How many template texts Handlebars parses while `run` runs (precompiling a parsed one is no parse). */
  function parsesDuring(run: () => unknown): number {
    const handlebars = require("handlebars") as typeof import("handlebars");
    const parse = handlebars.parse;
    let count = 0;
    handlebars.parse = ((...args: Parameters<typeof parse>) => (typeof args[0] === "string" && count++, parse(...args))) as typeof parse;
    try {
      run();
    } finally {
      handlebars.parse = parse;
    }
    return count;
  }

  it("cold, warm, and after changes, the same bytes as without a cache; a warm run parses no template and writes nothing", () => {
    const cache = memoryCache();
    const uncached = render();
    assert.equal(parsesDuring(() => assert.deepEqual(render({ cache }), uncached)), Object.keys(TEMPLATES).length);
    cache.writes.length = 0;
    assert.equal(parsesDuring(() => assert.deepEqual(render({ cache }), uncached)), 0);
    assert.deepEqual(cache.writes, []);
    // Parameters that change what an {{#if}} keeps, and others.
    for (const params of [{ ...PARAMS, flag: true }, { ...PARAMS, replicas: 1 }, PARAMS]) assert.deepEqual(render({ cache, params }), render({ params }));
  });

  it("after an edit, only the edited template is parsed again; it is checked as a new one is", () => {
    const cache = memoryCache();
    render({ cache });
    const edited = { ...TEMPLATES, "b.yaml.hbs": cm("b", "  more: x\n") };
    let trees;
    assert.equal(parsesDuring(() => (trees = render({ cache, templates: edited }))), 1);
    assert.deepEqual(trees, render({ templates: edited }));
    const added = { ...edited, "b2.yaml.hbs": cm("b2") };
    assert.equal(parsesDuring(() => (trees = render({ cache, templates: added }))), 1);
    assert.deepEqual(trees, render({ templates: added }));
    const wrong = { ...added, "b.yaml.hbs": cm("b", "  more: {{nope}}\n") };
    assert.match(problemsOf(() => render({ cache, templates: wrong })).join("\n"), /tpl\/b\.yaml\.hbs:9:\d+: "nope" is not a declared parameter/);
  });

  it("templates taken from the cache are still checked against a changed partial and schema", () => {
    const cache = memoryCache();
    render({ cache });
    const partial = { ...TEMPLATES, "_labels.hbs": "app: {{name}}\nteam: {{team}}\n" };
    assert.match(problemsOf(() => render({ cache, templates: partial })).join("\n"), /tpl\/a\.yaml\.hbs:6:5: partial "labels" uses "team" \(at tpl\/_labels\.hbs:2:9\), which is neither a declared parameter nor passed to it/);
    const { replicas: _, ...properties } = TEST_SCHEMA.properties!;
    const schema = { ...TEST_SCHEMA, properties };
    const problems = problemsOf(() => renderInMemory({ templates: TEMPLATES, params: { name: "n", password: "p" }, schema, cache }));
    assert.match(problems.join("\n"), /tpl\/c\.yaml\.hbs:6:\d+: "replicas" is not a declared parameter/);
  });

  it("a damaged entry is a miss: the run compiles and parses afresh, to the same bytes", () => {
    const uncached = render();
    for (const damage of ["not json {", "[]", "{}", "null", '[{"name":"_labels.hbs"}]', '[["a.yaml.hbs",[1,2]]]', '{"spec":1,"sites":[]}']) {
      const cache = memoryCache();
      render({ cache });
      for (const key of cache.entries.keys()) cache.entries.set(key, damage);
      assert.deepEqual(render({ cache }), uncached, damage);
      assert.deepEqual(render({ cache }), uncached, `${damage}, written again`);
    }
  });

  it("holds no parameter value, secret or not: only the templates' text and tokens, and the schema", () => {
    const cache = memoryCache();
    render({ cache });
    render({ cache, params: { ...PARAMS, flag: true } });
    assert.ok(cache.entries.size > 0);
    for (const [key, entry] of cache.entries) for (const value of ["NAME-SENTINEL", "PASSWORD-SENTINEL", "7357"]) assert.ok(!entry.includes(value), `${value} in ${key}`);
  });
});

describe("compile cache", () => {
  it("gives the same bytes cold, warm, with damaged entries, and disabled; and holds no secret", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const cold = renderWith(cwd, env, "cold/out");
    const entries = fs.readdirSync(cacheDir);
    assert.ok(entries.length >= 3, `entries written: ${entries.join(", ")}`);
    assert.deepEqual(renderWith(cwd, env, "warm/out"), cold);
    // V8's code caches too, which the warm run adds: code and the schema's constants, never a value.
    for (const e of fs.readdirSync(cacheDir)) assert.ok(!fs.readFileSync(path.join(cacheDir, e), "latin1").includes(SENTINEL), `no secret in the cache: ${e}`);
    for (const e of entries) fs.writeFileSync(path.join(cacheDir, e), "this is not code {");
    assert.deepEqual(renderWith(cwd, env, "damaged/out"), cold);
    const offDir = tmpDir("gm-cache-off-");
    assert.deepEqual(renderWith(cwd, { GEN_MANIFESTS_CACHE: "off", GEN_MANIFESTS_CACHE_DIR: offDir }, "off/out"), cold);
    assert.deepEqual(fs.readdirSync(offDir), []);
  });

  it("a parameters' validator from the cache reports the same problems as a fresh one", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: SENTINEL, replicas: "x", url: "not a url" });
    const env = { GEN_MANIFESTS_CACHE_DIR: tmpDir("gm-cache-") };
    const runs = [1, 2, 3].map(() => runCli(["--params", "params.json"], { cwd, env }));
    for (const r of runs) assert.equal(r.status, 1, r.all);
    assert.match(runs[0].stderr, /\/replicas: must be an integer\n[^]*\/url: must match format "uri"\n/);
    assert.deepEqual(runs.map((r) => r.stderr), [runs[0].stderr, runs[0].stderr, runs[0].stderr]);
  });

  it("keeps V8's compiled code of the CLI from a warm run; then a run only reads it", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const cli = copyOfCli();
    const cold = renderWith(cwd, env, "cold/out", cli);
    const codeCaches = () => fs.readdirSync(cacheDir).filter((e) => /^v8-[0-9a-f]{64}\.bin$/.test(e)).sort();
    // Not the CLI's from the cold run: it also compiled the compilers, which a warm run never uses
    // (the one code cache there is the template set's, taken after its render).
    assert.equal(codeCaches().length, 1, fs.readdirSync(cacheDir).join(", "));
    assert.deepEqual(renderWith(cwd, env, "warm/out", cli), cold);
    assert.equal(codeCaches().length, 2, "the first warm run keeps the CLI's render command");
    const stamp = (names: string[]) => names.map((e) => `${e} ${fs.statSync(path.join(cacheDir, e)).mtimeMs}`);
    const before = stamp(fs.readdirSync(cacheDir).sort());
    assert.deepEqual(renderWith(cwd, env, "warm-again/out", cli), cold);
    assert.deepEqual(stamp(fs.readdirSync(cacheDir).sort()), before, "then a run writes nothing to the cache");
    // A failed run compiles little: it leaves no entry for its command to be stuck with.
    const failed = runCli(["plan", "--params", "missing.json"], { cwd, env, cli });
    assert.equal(failed.status, 1);
    assert.equal(codeCaches().length, 2);
    // Another command compiles other functions: it gets an entry of its own.
    const plan = runCli(["plan", "--params", "params.json"], { cwd, env, cli });
    assert.equal(plan.status, 0, plan.all);
    assert.equal(codeCaches().length, 3);
  });

  it("a bundle changed in place (as patch-package does) is compiled afresh, never run from V8's code of the one before", () => {
    const cli = copyOfCli();
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const env = { GEN_MANIFESTS_CACHE_DIR: tmpDir("gm-cache-") };
    renderWith(cwd, env, "out", cli);
    renderWith(cwd, env, "out", cli); // keeps V8's code of the CLI, with the function that prints the summary
    const bundle = path.join(path.dirname(cli), "gen-manifests.bundle.js");
    const text = fs.readFileSync(bundle, "latin1");
    assert.ok(text.includes("`rendered "));
    // The same length: V8's own check of a code cache compares the source's length only.
    fs.writeFileSync(bundle, text.replace("`rendered ", "`RENDERED "), "latin1");
    const r = runCli(["--params", "params.json", "--out", "out"], { cwd, env, cli });
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^RENDERED 2 objects/);
  });

  it("a short command (completion, --help) never stands in for render's code cache", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const codeCaches = () => fs.readdirSync(cacheDir).filter((e) => e.startsWith("v8-")).length;
    const cli = copyOfCli();
    for (const args of [["completion"], ["--help"], ["diff", "--help"]]) {
      const r = runCli(args, { cwd, env, cli });
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    assert.equal(codeCaches(), 3);
    renderWith(cwd, env, "out", cli);
    renderWith(cwd, env, "out", cli);
    assert.equal(codeCaches(), 5, "render's own entry, and the template set's");
  });

  it("a damaged or foreign V8 code cache of the template set gives the same bytes, and is ignored and replaced", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    const cold = renderWith(cwd, env, "cold/out");
    // The cold run's one code cache is the set's (the CLI's is taken from a warm run).
    const [name, ...others] = fs.readdirSync(cacheDir).filter((e) => e.startsWith("v8-"));
    assert.ok(name !== undefined && others.length === 0, fs.readdirSync(cacheDir).join(", "));
    const file = path.join(cacheDir, name);
    const good = fs.readFileSync(file);
    const damaged: [string, Buffer][] = [
      ["truncated", good.subarray(0, good.length >> 1)],
      ["changed under its seal", Buffer.concat([good.subarray(0, 100), Buffer.from("x"), good.subarray(101)])],
      // Sealed as ours, but not V8's data for this code: V8 rejects it.
      ["not V8's data", sealEntry(name, Buffer.alloc(good.length - 68, 7))],
    ];
    for (const [what, bytes] of damaged) {
      fs.writeFileSync(file, bytes, { mode: 0o600 });
      assert.deepEqual(renderWith(cwd, env, `${what}/out`), cold, what);
      assert.ok(!fs.readFileSync(file).equals(bytes), `${what}: replaced`);
    }
    // Another user's (here: writable by others) is never read.
    fs.writeFileSync(file, damaged[2][1]);
    fs.chmodSync(file, 0o666);
    assert.deepEqual(renderWith(cwd, env, "foreign/out"), cold);
  });

  it("forgets entries unused for 30 days, when it next grows, and keeps the ones in use", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const cacheDir = tmpDir("gm-cache-");
    const env = { GEN_MANIFESTS_CACHE_DIR: cacheDir };
    renderWith(cwd, env, "out");
    const first = fs.readdirSync(cacheDir).filter((e) => !e.startsWith("."));
    const longAgo = (days: number) => new Date(Date.now() - days * 24 * 3600 * 1000);
    fs.writeFileSync(path.join(cacheDir, `${"0".repeat(64)}.js`), "module.exports = 1");
    fs.writeFileSync(path.join(cacheDir, ".left-by-a-killed-run.tmp"), "");
    fs.utimesSync(path.join(cacheDir, ".left-by-a-killed-run.tmp"), longAgo(2), longAgo(2));
    for (const e of fs.readdirSync(cacheDir)) if (!e.endsWith(".tmp")) fs.utimesSync(path.join(cacheDir, e), longAgo(40), longAgo(40));
    // A changed template is a miss: the cache grows, and is pruned. What this run reads is in use.
    fs.writeFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), WEB_TEMPLATE.replace("image: nginx:1.27", "image: nginx:1.28"));
    const changed = renderWith(cwd, env, "out");
    const after = fs.readdirSync(cacheDir);
    assert.ok(!after.includes(`${"0".repeat(64)}.js`), "an entry unused for 40 days is removed");
    assert.ok(!after.includes(".left-by-a-killed-run.tmp"), "a temporary file of a killed run is removed");
    const kept = first.filter((e) => after.includes(e));
    assert.ok(kept.length > 0 && kept.length < first.length, `the entries this run used are kept, the others removed: ${kept.length} of ${first.length}`);
    for (const e of kept) assert.ok(Date.now() - fs.statSync(path.join(cacheDir, e)).mtimeMs < 60_000, `${e} is marked used`);
    assert.deepEqual(renderWith(cwd, env, "again/out"), changed);
  });

  it("past its size bound, forgets the least recently used entries, down to three quarters of it, once a day", () => {
    const cacheDir = tmpDir("gm-cache-");
    const now = Date.now();
    const daysAgo = (days: number) => new Date(now - days * 24 * 3600 * 1000);
    const names = Array.from({ length: 10 }, (_, i) => `${String(i).repeat(64)}.js`);
    names.forEach((name, i) => {
      fs.writeFileSync(path.join(cacheDir, name), "x".repeat(100));
      fs.utimesSync(path.join(cacheDir, name), daysAgo(i + 1), daysAgo(i + 1));
    });
    pruneCompileCache(cacheDir, now, 1000);
    assert.equal(fs.readdirSync(cacheDir).length, 11, "at the bound, nothing is removed");
    fs.rmSync(path.join(cacheDir, ".pruned"));
    pruneCompileCache(cacheDir, now, 500);
    assert.deepEqual(fs.readdirSync(cacheDir).sort(), [".pruned", ...names.slice(0, 3)].sort(), "1,000 bytes over a bound of 500: the three used last are kept (300 bytes)");
    fs.writeFileSync(path.join(cacheDir, `${"a".repeat(64)}.js`), "x".repeat(1000));
    pruneCompileCache(cacheDir, now, 500);
    assert.equal(fs.readdirSync(cacheDir).length, 5, "pruned already today: nothing more is removed");
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

describe("compile cache: runs no code that this user did not make", () => {
  const ROOT = process.getuid?.() === 0;
  /** A chart, its entries in a cache of this user's, and planted code that leaves a mark when it runs. */
  let made: ReturnType<typeof makePlanting> | undefined;
  const planting = () => {
    made ??= makePlanting();
    if (fs.existsSync(made.mark)) fs.rmSync(made.mark);
    return made;
  };
  function makePlanting() {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
    const own = tmpDir("gm-cache-");
    const reference = renderWith(cwd, { GEN_MANIFESTS_CACHE: "off" }, "reference/out");
    renderWith(cwd, { GEN_MANIFESTS_CACHE_DIR: own }, "cold/out");
    renderWith(cwd, { GEN_MANIFESTS_CACHE_DIR: own }, "warm/out");
    const names = fs.readdirSync(own).filter((e) => /^[0-9a-f]{64}\.js$/.test(e));
    const mark = path.join(tmpDir("gm-mark-"), "planted-code-ran");
    const planted = `process.getBuiltinModule("fs").appendFileSync(${JSON.stringify(mark)}, "ran\\n"); module.exports = [];`;
    /** Fills a folder with planted entries under every key, each sealed to its name as this version seals them. */
    const plant = (dir: string, mode = 0o644): void => {
      for (const name of names) {
        fs.writeFileSync(path.join(dir, name), sealEntry(name, planted));
        fs.chmodSync(path.join(dir, name), mode);
      }
    };
    let runs = 0;
    const render = (env: Record<string, string>, out: string) => renderWith(cwd, env, `run-${++runs}/${out}`);
    const ran = (): boolean => fs.existsSync(mark);
    return { cwd, own, reference, names, plant, render, ran, mark };
  }

  it("the planted code leaves its mark when it is in this user's own folder (the check the other cases rely on)", () => {
    const { cwd, plant, ran } = planting();
    const dir = tmpDir("gm-cache-");
    plant(dir);
    // It runs, then the render fails on what it exported: entries in a trusted folder are taken as made here.
    runCli(["--params", "params.json", "--out", "planted/out", "--quiet"], { cwd, env: { GEN_MANIFESTS_CACHE_DIR: dir } });
    assert.ok(ran(), "sealed code in a trusted folder is loaded: the cases below would see it run");
  });

  const cases: { name: string; root?: boolean; prepare(dir: string, plant: (dir: string, mode?: number) => void): void }[] = [
    { name: "a folder anyone may write (as a shared /tmp folder made first by another user)", prepare: (dir, plant) => (plant(dir), fs.chmodSync(dir, 0o777)) },
    { name: "a folder its group may write", prepare: (dir, plant) => (plant(dir), fs.chmodSync(dir, 0o770)) },
    { name: "files anyone may write, in a folder of this user's", prepare: (dir, plant) => plant(dir, 0o666) },
    { name: "files its group may write", prepare: (dir, plant) => plant(dir, 0o620) },
    { name: "a folder another user owns", root: true, prepare: (dir, plant) => (plant(dir), fs.chownSync(dir, 65534, 65534)) },
    { name: "files another user owns, in a folder of this user's", root: true, prepare: (dir, plant) => (plant(dir), fs.readdirSync(dir).forEach((e) => fs.chownSync(path.join(dir, e), 65534, 65534))) },
    { name: "a symbolic link to a folder of planted code", prepare: (dir, plant) => {
      const target = tmpDir("gm-planted-");
      plant(target);
      fs.rmSync(dir, { recursive: true });
      fs.symlinkSync(target, dir);
    } },
  ];
  for (const c of cases) {
    it(`never runs code from ${c.name}: renders in memory, the same bytes`, { skip: c.root && !ROOT ? "needs root to give files away" : false }, () => {
      const { reference, plant, render, ran } = planting();
      const dir = path.join(tmpDir("gm-cache-parent-"), "cache");
      fs.mkdirSync(dir, { mode: 0o700 });
      c.prepare(dir, plant);
      assert.deepEqual(render({ GEN_MANIFESTS_CACHE_DIR: dir }, "out"), reference);
      assert.equal(ran(), false, "the planted code ran");
    });
  }

  it("never runs an entry whose content is not what was stored under its key, nor an entry moved under another key", () => {
    const { own, reference, names, render, ran } = planting();
    const mark = "process.getBuiltinModule(\"fs\").writeFileSync";
    // Tampered in place: the content changed, its seal kept.
    const tampered = tmpDir("gm-cache-");
    fs.cpSync(own, tampered, { recursive: true });
    for (const name of names) {
      const file = path.join(tampered, name);
      const text = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, text.replace(/\n/, `\n${mark}(${JSON.stringify(path.join(tampered, "ran"))}, "x");\n`), { mode: 0o600 });
    }
    assert.deepEqual(render({ GEN_MANIFESTS_CACHE_DIR: tampered }, "tampered/out"), reference);
    assert.equal(fs.existsSync(path.join(tampered, "ran")), false);
    // Sealed for one key, stored under another: each entry takes the place of the next.
    const moved = tmpDir("gm-cache-");
    names.forEach((name, i) => fs.writeFileSync(path.join(moved, names[(i + 1) % names.length]), fs.readFileSync(path.join(own, name)), { mode: 0o600 }));
    assert.deepEqual(render({ GEN_MANIFESTS_CACHE_DIR: moved }, "moved/out"), reference);
    assert.equal(ran(), false);
  });

  it("lives in the user's cache folder ($XDG_CACHE_HOME, else ~/.cache), never in a shared temporary folder or node_modules", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const home = tmpDir("gm-home-");
    const xdg = tmpDir("gm-xdg-");
    const base = { GEN_MANIFESTS_CACHE_DIR: "", HOME: home };
    const reference = renderWith(cwd, { GEN_MANIFESTS_CACHE: "off" }, "reference/out");
    assert.deepEqual(renderWith(cwd, { ...base, XDG_CACHE_HOME: xdg }, "xdg/out"), reference);
    assert.ok(fs.readdirSync(path.join(xdg, "gen-manifests")).some((e) => e.endsWith(".js")));
    assert.equal((fs.statSync(path.join(xdg, "gen-manifests")).mode & 0o777).toString(8), "700");
    assert.equal(fs.existsSync(path.join(home, ".cache")), false);
    // A relative $XDG_CACHE_HOME is invalid (the XDG spec): ~/.cache then.
    assert.deepEqual(renderWith(cwd, { ...base, XDG_CACHE_HOME: "relative" }, "home/out"), reference);
    assert.ok(fs.readdirSync(path.join(home, ".cache", "gen-manifests")).some((e) => e.endsWith(".js")));
    assert.equal(fs.existsSync(path.join(cwd, "relative")), false);
    assert.equal(fs.existsSync(path.join(cwd, "node_modules")), false);
  });
});
