// The CLI as a user runs it: real files, exit codes and messages; in this process where a new one adds nothing.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { CLI, EXAMPLE_PARAMS, makeChart, REPO, runCli, runCliHere, secretText, SECRET_TEMPLATE, snapshot, tmpDir, WEB_TEMPLATE, writeFiles } from "./helpers";

const SENTINEL = "SENTINEL-7f3a9c-secret";
const PARAMS = { name: "web", password: SENTINEL };
const chart = (templates: Record<string, string> = { "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, params: Record<string, unknown> = PARAMS) => makeChart(templates, params);
const render = (cwd: string, ...extra: string[]) => runCliHere(["--params", "params.json", ...extra], { cwd });

/** The sentinel's base64 text at each byte alignment inside longer data (a Secret's data holds it so). */
const SENTINEL_BASE64 = [0, 1, 2].map((offset) => {
  const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(SENTINEL)]).toString("base64");
  return encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + Buffer.byteLength(SENTINEL))) / 6));
});

function assertNoSentinel(...texts: string[]): void {
  for (const t of texts) for (const form of [SENTINEL, ...SENTINEL_BASE64]) assert.ok(!t.includes(form), `no secret (${form}) in:\n${t}`);
}

/** Runs a failing command and checks that out/ and secrets/ are byte for byte as before. */
function assertFailsLeavingOutput(cwd: string, args: string[], code: number, message: RegExp): void {
  const before = { out: snapshot(path.join(cwd, "out")), secrets: snapshot(path.join(cwd, "secrets")) };
  const r = runCliHere(args, { cwd });
  assert.equal(r.status, code, r.all);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.all, /\n\s+at .*\(.*:\d+:\d+\)/, "no stack trace");
  assertNoSentinel(r.stdout, r.stderr);
  assert.deepEqual({ out: snapshot(path.join(cwd, "out")), secrets: snapshot(path.join(cwd, "secrets")) }, before);
}

describe("cli: rendering", () => {
  it("says one object from one template in the singular", () => {
    const cwd = chart({ "secret.yaml.hbs": SECRET_TEMPLATE });
    assert.match(render(cwd, "--inline-secrets").stdout, /^rendered 1 object from 1 template → out\/ \(/);
  });

  it("writes one object per file in phase order, the kustomization, apply.sh and the secrets folder", () => {
    const cwd = chart();
    const r = render(cwd);
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^rendered 3 objects from 2 templates → out\/ and secrets\/ \(8 added\) in \d+\.\d\d s\n$/);
    assert.deepEqual(fs.readdirSync(path.join(cwd, "out")).sort(), [".gen-manifests", "50-service-web.yaml", "70-deployment-web.yaml", "Kustomization", "apply.sh"]);
    assert.deepEqual(fs.readdirSync(path.join(cwd, "secrets")).sort(), [".gen-manifests", ".gitignore", "20-secret-web-secret.yaml"]);
    assert.equal(fs.statSync(path.join(cwd, "secrets")).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(cwd, "secrets", "20-secret-web-secret.yaml")).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(path.join(cwd, "secrets", ".gitignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#")).join(), "*");
    assert.equal(fs.statSync(path.join(cwd, "out", "apply.sh")).mode & 0o111, 0o111);
    const kustomization = fs.readFileSync(path.join(cwd, "out", "Kustomization"), "utf8");
    assert.match(kustomization, /\nkind: Kustomization\nresources:\n {2}- 50-service-web\.yaml\n {2}- 70-deployment-web\.yaml\n$/);
  });

  it("never writes a secret value under out/ by default", () => {
    const cwd = chart();
    assert.equal(render(cwd).status, 0);
    for (const f of fs.readdirSync(path.join(cwd, "out"))) assertNoSentinel(fs.readFileSync(path.join(cwd, "out", f), "utf8"));
    const secret = parse(fs.readFileSync(path.join(cwd, "secrets", "20-secret-web-secret.yaml"), "utf8"));
    assert.ok(Object.values(secretText(secret)).some((v) => v.includes(SENTINEL)));
  });

  it("--inline-secrets puts the Secrets into out/, in phase order", () => {
    const cwd = chart();
    assert.equal(render(cwd, "--inline-secrets").status, 0);
    assert.ok(fs.existsSync(path.join(cwd, "out", "20-secret-web-secret.yaml")));
    assert.ok(!fs.existsSync(path.join(cwd, "secrets")));
    assert.match(fs.readFileSync(path.join(cwd, "out", "Kustomization"), "utf8"), /- 20-secret-web-secret\.yaml\n {2}- 50-service/);
  });

  it("is deterministic: two runs, from different folders, give the same bytes", () => {
    const cwd = chart();
    assert.equal(render(cwd).status, 0);
    const first = snapshot(path.join(cwd, "out"));
    fs.rmSync(path.join(cwd, "out"), { recursive: true });
    fs.rmSync(path.join(cwd, "secrets"), { recursive: true });
    const elsewhere = runCliHere(["--params", path.join(cwd, "params.json"), "--templates", path.join(cwd, "kubernetes-in"), "--out", path.join(cwd, "out")], { cwd: REPO });
    assert.equal(elsewhere.status, 0, elsewhere.all);
    assert.deepEqual(snapshot(path.join(cwd, "out")), first);
  });

  it("creates the output folder's missing parents", () => {
    const cwd = chart();
    const r = render(cwd, "--out", "build/deep/out");
    assert.equal(r.status, 0, r.all);
    assert.ok(fs.existsSync(path.join(cwd, "build/deep/out/70-deployment-web.yaml")));
    assert.ok(fs.existsSync(path.join(cwd, "build/deep/secrets/20-secret-web-secret.yaml")));
  });

  it("a second run with nothing changed changes nothing", () => {
    const cwd = chart();
    render(cwd);
    const r = render(cwd);
    assert.match(r.stdout, /\(no changes\)/);
  });

  it("--quiet prints nothing on success", () => {
    const cwd = chart();
    const r = render(cwd, "--quiet");
    assert.equal(r.status, 0);
    assert.equal(r.all, "");
  });

  it("removing a template removes its files and renames no other", () => {
    const cwd = chart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE, "cm.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n" });
    render(cwd);
    const before = snapshot(path.join(cwd, "out"));
    fs.rmSync(path.join(cwd, "kubernetes-in", "cm.yaml.hbs"));
    const r = render(cwd);
    // Kustomization, apply.sh, and both folders' markers (they name the new out/).
    assert.match(r.stdout, /\(4 changed, 1 removed\)/);
    const after = snapshot(path.join(cwd, "out"));
    assert.ok(!("30-configmap-extra.yaml" in after));
    for (const f of ["50-service-web.yaml", "70-deployment-web.yaml"]) assert.equal(after[f], before[f]);
  });

  it("the bin that npx runs is executable as it is, with its shebang", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { bin: Record<string, string> };
    const bin = path.join(REPO, pkg.bin["gen-manifests"]);
    const r = spawnSync(bin, ["--params", "params/example.json", "--check"], { cwd: REPO, encoding: "utf8" });
    assert.equal(r.status, 0, `${r.error ?? ""}${r.stderr}`);
  });

  describe("installing the command, with no registry reachable", () => {
    // A registry that refuses every connection, and offline mode: any request to it fails the command.
    const NO_REGISTRY = { npm_config_registry: "http://127.0.0.1:9/", npm_config_offline: "true", npm_config_update_notifier: "false", NO_COLOR: "1" };
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;

    for (const where of [".", "kubernetes-in"]) {
      it(`npx gen-manifests in the project folder (${where}) runs the project's own bin, never the registry's`, () => {
        const r = spawnSync("npx", ["gen-manifests", "--version"], { cwd: path.join(REPO, where), encoding: "utf8", env: { ...process.env, ...NO_REGISTRY }, timeout: 60_000 });
        assert.equal(r.status, 0, `${r.error ?? ""}${r.stderr}`);
        assert.equal(r.stdout, `${version}\n`);
      });
    }

    it("npm install -g from a clone puts gen-manifests on PATH; run in a GitOps repository, it renders that repository's kubernetes-in/ and params/", () => {
      const prefix = tmpDir("gm-prefix-");
      const install = spawnSync("npm", ["install", "-g", "--prefix", prefix, REPO], { encoding: "utf8", env: { ...process.env, ...NO_REGISTRY }, timeout: 120_000 });
      assert.equal(install.status, 0, `${install.error ?? ""}${install.stderr}`);
      const gitops = chart();
      const r = spawnSync("gen-manifests", ["--params", "params.json"], { cwd: gitops, encoding: "utf8", env: { ...process.env, PATH: `${path.join(prefix, "bin")}:${process.env.PATH}`, NO_COLOR: "1" } });
      assert.equal(r.status, 0, `${r.error ?? ""}${r.stderr}`);
      assert.deepEqual(fs.readdirSync(path.join(gitops, "out")).filter((f) => f.endsWith(".yaml")).sort(), ["50-service-web.yaml", "70-deployment-web.yaml"]);
    });
  });

  it("the committed out/ is what params/example.json renders today", () => {
    const r = runCliHere(["--params", "params/example.json", "--check"]);
    assert.equal(r.status, 0, r.all);
  });
});

describe("cli: --out - prints the objects as one YAML stream (as helm template does)", () => {
  const render = (args: string[], cwd = tmpDir()) => ({ cwd, r: runCli(["--params", path.join(REPO, "params/example.json"), "--templates", path.join(REPO, "kubernetes-in"), ...args], { cwd }) });

  it("in apply order, every object but the Secrets, writing nothing", () => {
    const { cwd, r } = render(["--out", "-"]);
    assert.equal(r.status, 0, r.stderr);
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string });
    const files = fs.readdirSync(path.join(REPO, "out")).filter((f) => /^\d\d-/.test(f)).sort();
    assert.deepEqual(objects.map((o) => o.kind), files.map((f) => parse(fs.readFileSync(path.join(REPO, "out", f), "utf8")).kind));
    assert.ok(!objects.some((o) => o.kind === "Secret"));
    assert.match(r.stderr, /^rendered 39 objects to standard output in [\d.]+ s; 14 Secrets left out \(add --inline-secrets to print them, or --secrets-out DIR to write them\)$/m);
    assert.deepEqual(snapshot(cwd), { "/": snapshot(cwd)["/"] });
  });

  it("with --inline-secrets, the Secrets too, with their values (asked for explicitly)", () => {
    const { r } = render(["-o", "-", "--inline-secrets", "--quiet"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const secrets = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; data?: Record<string, string> }).filter((o) => o.kind === "Secret");
    assert.equal(secrets.length, 14);
    assert.ok(secrets.some((o) => Object.values(secretText(o)).includes(String(EXAMPLE_PARAMS.rabbitmq_password))), "a secret value, not [secret]");
  });

  it("with --secrets-out, writes the Secrets there and prints the rest", () => {
    const { cwd, r } = render(["--out", "-", "--secrets-out", "sec"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readdirSync(path.join(cwd, "sec")).filter((f) => f.endsWith(".yaml")).length, 14);
    assert.equal(parseAllDocuments(r.stdout).length, 39);
  });

  for (const args of [["--out", "-", "--check"], ["diff", "--out", "-"], ["plan", "-o", "-"]]) {
    it(`${args.join(" ")} is a usage error (it needs a folder)`, () => {
      const { r } = render(args);
      assert.equal(r.status, 2, r.all);
      assert.equal(r.stdout, "");
    });
  }
});

/** A `--watch` run in `cwd`: what it printed so far, and a wait for a line of it. */
function startWatch(cwd: string, ...extra: string[]) {
  const child = spawn(process.execPath, [CLI, "--params", "params.json", "--watch", ...extra], { cwd, env: { ...process.env, NO_COLOR: "1" } });
  const printed = { all: "", stdout: "" };
  child.stdout.on("data", (d) => ((printed.all += d), (printed.stdout += d)));
  child.stderr.on("data", (d) => (printed.all += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  /** Waits for `re` in what was printed after `from` characters of it. */
  const waitFor = async (re: RegExp, from: number): Promise<void> => {
    for (const deadline = Date.now() + 20_000; !re.test(printed.all.slice(from)); ) {
      if (Date.now() > deadline) assert.fail(`no ${re} in:\n${printed.all}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, printed, exited, waitFor };
}

describe("cli: --watch", () => {
  it("renders again after each change, reports a broken template without writing and goes on, and stops on Ctrl-C", async () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const { child, printed, exited, waitFor } = startWatch(cwd);
    const template = path.join(cwd, "kubernetes-in", "web.yaml.hbs");
    const deployment = (): string => fs.readFileSync(path.join(cwd, "out", fs.readdirSync(path.join(cwd, "out")).find((f) => f.includes("deployment-web"))!), "utf8");
    try {
      await waitFor(/\] watching kubernetes-in\/, params\.json, params\/schema\.json for changes/, 0);

      let from = printed.all.length;
      fs.writeFileSync(template, WEB_TEMPLATE.replace("image: nginx:1.27", "image: nginx:1.28"));
      await waitFor(/^\[\d\d:\d\d:\d\d\] rendered 2 objects from 1 template → out\/ \(1 changed\)/m, from);
      assert.match(deployment(), /nginx:1\.28/);

      const before = snapshot(path.join(cwd, "out"));
      from = printed.all.length;
      fs.writeFileSync(template, WEB_TEMPLATE.replace("image: nginx:1.27", "imagee: nginx:1.29"));
      await waitFor(/error: kubernetes-in\/web\.yaml\.hbs:\d+:\d+: Deployment web: .*imagee: unknown field/, from);
      assert.deepEqual(snapshot(path.join(cwd, "out")), before, "a failed render writes nothing");

      from = printed.all.length;
      fs.writeFileSync(path.join(cwd, "params.json"), JSON.stringify({ name: "web", password: "p", replicas: 5 }));
      fs.writeFileSync(template, WEB_TEMPLATE);
      await waitFor(/rendered 2 objects from 1 template → out\/ \(1 changed\)/, from);
      assert.match(deployment(), /replicas: 5/);
    } finally {
      child.kill("SIGINT");
    }
    assert.equal(await exited, 0);
    assert.match(printed.all, /stopped watching/);
  });

  it("with --output json, standard output is one JSON document a render, without time stamps", async () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" });
    const { child, printed, exited, waitFor } = startWatch(cwd, "--output", "json");
    try {
      await waitFor(/watching kubernetes-in\//, 0);
      fs.writeFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), WEB_TEMPLATE.replace("image: nginx:1.27", "image: nginx:1.28"));
      await waitFor(/"changes": \[\s*\{[^\]]*"change": "changed"/, 0);
    } finally {
      child.kill("SIGINT");
    }
    assert.equal(await exited, 0);
    const documents = printed.stdout.split(/(?<=^\})\n/m).filter((d) => d.trim());
    assert.deepEqual(documents.map((d) => (JSON.parse(d) as { objects: number }).objects), [2, 2]);
  });

  for (const args of [["--watch", "--check"], ["--watch", "--out", "-"], ["--watch", "--params", "-"]]) {
    it(`${args.join(" ")} is a usage error`, () => {
      const r = runCli(["--params", "params.json", ...args], { cwd: makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: "p" }), input: "{}" });
      assert.equal(r.status, 2, r.all);
    });
  }
});

describe("cli: names in a parameters file that are not declared", () => {
  const stack = JSON.stringify({ stack_status: "CREATE_COMPLETE", outputs: [["name", "web"], ["password", "p"], ["floating_network_id", "x"], ["server_ip", "y"]].map(([k, v]) => ({ output_key: k, output_value: v })) });
  it("a stack's own outputs are ignored quietly, and listed once with --verbose", () => {
    const cwd = chart();
    fs.writeFileSync(path.join(cwd, "stack.json"), stack);
    const quiet = runCliHere(["--params", "stack.json"], { cwd });
    assert.equal(quiet.status, 0, quiet.all);
    assert.equal(quiet.stderr, "");
    const verbose = runCliHere(["--params", "stack.json", "--verbose"], { cwd });
    assert.equal(verbose.status, 0, verbose.all);
    assert.equal(verbose.stderr, "note: stack.json: ignored, not declared parameters: floating_network_id, server_ip\n");
  });
  it("a name near a declared one is an error at its place, where --set is too", () => {
    const cwd = chart(undefined, { ...PARAMS, replica: 9 });
    const r = render(cwd);
    assert.equal(r.status, 1, r.all);
    assert.match(r.stderr, /^error: params\.json:1:\d+: \/replica: is not a declared parameter \(did you mean replicas\?\)$/m);
  });
});

describe("cli: --check", () => {
  it("exits 0 when out/ is current, 1 listing each added, changed and removed file otherwise", () => {
    const cwd = chart();
    render(cwd);
    assert.equal(render(cwd, "--check").status, 0);
    fs.appendFileSync(path.join(cwd, "out", "50-service-web.yaml"), "# edited\n");
    fs.rmSync(path.join(cwd, "out", "70-deployment-web.yaml"));
    fs.writeFileSync(path.join(cwd, "out", "99-stray.yaml"), "x: 1\n");
    const before = snapshot(path.join(cwd, "out"));
    const r = render(cwd, "--check");
    assert.equal(r.status, 1);
    assert.equal(r.stderr.split("\n").filter((l) => /^(added|changed|removed): /.test(l)).join("\n"), ["changed: out/50-service-web.yaml", "added: out/70-deployment-web.yaml", "removed: out/99-stray.yaml"].join("\n"));
    assert.match(r.stderr, /out\/ is stale: 1 added, 1 changed, 1 removed/);
    assert.deepEqual(snapshot(path.join(cwd, "out")), before, "--check writes nothing");
  });
});

describe("cli: --kube-version", () => {
  it("a field whose gate is off in the default 1.32 renders when the target is a version where it is on", () => {
    const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n  securityContext:\n    supplementalGroupsPolicy: Strict\n";
    const cwd = chart({ "pod.yaml.hbs": pod });
    const r = render(cwd);
    assert.equal(r.status, 1, r.all);
    assert.match(r.stderr, /pod\.yaml\.hbs:10:5: Pod p: spec\.securityContext\.supplementalGroupsPolicy: needs the SupplementalGroupsPolicy feature gate, off by default \(alpha\) in Kubernetes 1\.32/);
    assert.equal(render(cwd, "--kube-version", "1.33").status, 0);
    assert.equal(render(cwd, "--kube-version", "v1.33.2").status, 0, "as kubectl version prints it");
  });
});

describe("cli: messages a user can act on", () => {
  for (const args of [["dif", "--params", "params.json"], ["dif"], ["pla", "--params", "params.json"]]) {
    it(`a mistyped command suggests the right one, exit 2: ${args.join(" ")}`, () => {
      const r = runCliHere(args, { cwd: chart() });
      assert.equal(r.status, 2, r.all);
      const meant = args[0] === "dif" ? "diff" : "plan";
      assert.match(r.stderr, new RegExp(`^error: unknown command "${args[0]}"; did you mean ${meant}\\? \\(commands: render, diff, plan, init-params, completion; see --help\\)$`, "m"));
    });
  }

  it("--check on a stale folder prints the whole command to regenerate it, which can be pasted", () => {
    const cwd = chart();
    const typed = ["--params", "params.json", "--set", "replicas=3", "--set", "name=web two", "--out", "rendered", "--check"];
    const r = runCliHere(typed, { cwd });
    assert.equal(r.status, 1, r.all);
    const hint = /run (gen-manifests .*) to regenerate it$/m.exec(r.stderr)?.[1];
    assert.equal(hint, "gen-manifests --params params.json --set replicas=3 --set 'name=web two' --out rendered");
    const bin = tmpDir("gm-bin-");
    fs.writeFileSync(path.join(bin, "gen-manifests"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    const pasted = spawnSync("sh", ["-c", hint!], { cwd, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.equal(runCliHere(typed, { cwd }).status, 0, "after the pasted command, --check passes");
  });

  it("problems are listed by file and line, whatever the check that found them", () => {
    const configMap = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: ${data}\n`;
    // The duplicate (line 9) is found before the schema problem (line 5) of the first document.
    const cwd = chart({ "b.yaml.hbs": `${configMap("5")}---\n${configMap("{}")}`, "a.yaml.hbs": "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: 80\n" });
    const r = render(cwd);
    assert.equal(r.status, 1, r.all);
    const places = r.stderr.split("\n").filter((l) => l.startsWith("error: ")).map((l) => /^error: ([^:]+:\d+)/.exec(l)?.[1]);
    assert.deepEqual(places, ["kubernetes-in/a.yaml.hbs:6", "kubernetes-in/b.yaml.hbs:5", "kubernetes-in/b.yaml.hbs:10"]);
  });
});

describe("cli: nothing lost", () => {
  it("a failed run leaves out/ and secrets/ byte for byte as they were", () => {
    const cwd = chart();
    assert.equal(render(cwd).status, 0);
    fs.writeFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), WEB_TEMPLATE.replace("containerPort: 80", 'containerPort: "80"'));
    assertFailsLeavingOutput(cwd, ["--params", "params.json"], 1, /containerPort: must be integer/);
  });

  it("refuses a non-empty folder it did not create, and deletes nothing", () => {
    const cwd = chart();
    writeFiles(cwd, { "mine/notes.txt": "keep me\n" });
    assertFailsLeavingOutput(cwd, ["--params", "params.json", "--out", "mine"], 1, /mine: is a folder gen-manifests did not create .* refusing to replace it/);
    assert.equal(fs.readFileSync(path.join(cwd, "mine", "notes.txt"), "utf8"), "keep me\n");
  });

  it("refuses --out that is a file", () => {
    const cwd = chart();
    writeFiles(cwd, { "afile": "x" });
    assertFailsLeavingOutput(cwd, ["--params", "params.json", "--out", "afile"], 1, /afile: is a file; expected a folder/);
    assert.equal(fs.readFileSync(path.join(cwd, "afile"), "utf8"), "x");
  });

  it("refuses to write into its own templates folder (the seed: cowardly refusing to work in-place)", () => {
    const cwd = chart();
    const before = snapshot(path.join(cwd, "kubernetes-in"));
    const r = render(cwd, "--out", "kubernetes-in/out");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing to write into the templates folder kubernetes-in/);
    assert.deepEqual(snapshot(path.join(cwd, "kubernetes-in")), before);
  });

  it("never follows a symbolic link inside out/", () => {
    const cwd = chart();
    render(cwd);
    const outside = path.join(tmpDir(), "precious.yaml");
    fs.writeFileSync(outside, "precious\n");
    fs.symlinkSync(outside, path.join(cwd, "out", "50-service-web.yaml.tmp"));
    fs.rmSync(path.join(cwd, "out", "70-deployment-web.yaml"));
    fs.symlinkSync(outside, path.join(cwd, "out", "70-deployment-web.yaml"));
    const check = render(cwd, "--check");
    assert.match(check.stderr, /changed: out\/70-deployment-web\.yaml/);
    const r = render(cwd);
    assert.equal(r.status, 0, r.all);
    assert.equal(fs.readFileSync(outside, "utf8"), "precious\n");
    assert.ok(fs.lstatSync(path.join(cwd, "out", "70-deployment-web.yaml")).isFile());
    assert.ok(!fs.existsSync(path.join(cwd, "out", "50-service-web.yaml.tmp")));
  });

  it("refuses an output folder that is itself a symbolic link", () => {
    const cwd = chart();
    const real = tmpDir();
    fs.symlinkSync(real, path.join(cwd, "out"));
    const r = render(cwd);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /out: is a symbolic link/);
  });

  it("an output folder that cannot be written fails cleanly, earlier output intact", (t) => {
    const cwd = chart();
    assert.equal(render(cwd).status, 0);
    fs.appendFileSync(path.join(cwd, "kubernetes-in", "web.yaml.hbs"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n");
    const lock = process.getuid?.() === 0 ? spawnSync("chattr", ["+i", cwd]) : spawnSync("chmod", ["0555", cwd]);
    if (lock.status !== 0) return t.skip("cannot make a folder read-only here");
    try {
      assertFailsLeavingOutput(cwd, ["--params", "params.json"], 1, /could not write \(EPERM|EACCES\); the earlier output is unchanged/);
    } finally {
      spawnSync("chattr", ["-i", cwd]);
      fs.chmodSync(cwd, 0o755);
    }
  });

  it("an up-to-date output in a folder that cannot be written renders fine (a read-only checkout)", (t) => {
    const cwd = chart();
    assert.equal(render(cwd).status, 0);
    const before = snapshot(path.join(cwd, "out"));
    const lock = process.getuid?.() === 0 ? spawnSync("chattr", ["+i", cwd]) : spawnSync("chmod", ["0555", cwd]);
    if (lock.status !== 0) return t.skip("cannot make a folder read-only here");
    try {
      const r = render(cwd);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /\(no changes\)/);
    } finally {
      spawnSync("chattr", ["-i", cwd]);
      fs.chmodSync(cwd, 0o755);
    }
    assert.deepEqual(snapshot(path.join(cwd, "out")), before);
  });

  it("two runs on the same out/ at once never leave a mix: one wins whole, or the other refuses", async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`cm${i}.yaml.hbs`, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm${i}\ndata:\n  who: {{name}}\n`]));
    const cwd = makeChart(many, { name: "first", password: "p" });
    writeFiles(cwd, { "second.json": JSON.stringify({ name: "second", password: "p" }) });
    const start = (params: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, "--params", params, "--quiet"], { cwd });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
      });
    for (let round = 0; round < 6; round++) {
      const results = await Promise.all([start("params.json"), start("second.json")]);
      for (const r of results) {
        if (r.code !== 0) assert.match(r.stderr, /^error: out: another gen-manifests run is writing this folder \(waited \d+ s\); try again when it has finished\nnothing was written\n$/);
      }
      assert.ok(results.some((r) => r.code === 0));
      const whos = new Set(fs.readdirSync(path.join(cwd, "out")).filter((f) => f.startsWith("30-")).map((f) => /who: (\w+)/.exec(fs.readFileSync(path.join(cwd, "out", f), "utf8"))![1]));
      assert.equal(whos.size, 1, `one run's output, whole: ${[...whos]}`);
      assert.deepEqual(fs.readdirSync(cwd).filter((f) => f.startsWith(".out")), [], "no staging or lock left behind");
    }
  });
});

describe("cli: parameters from standard input (--params -)", () => {
  it("reads them as from a file, e.g. piped from openstack stack show -f json", () => {
    const stack = { stack: { stack_name: "mystack", stack_status: "CREATE_COMPLETE", outputs: Object.entries(EXAMPLE_PARAMS).map(([k, v]) => ({ output_key: k, output_value: v })) } };
    for (const flag of ["--params", "-p"]) {
      const r = runCli([flag, "-", "--check"], { input: JSON.stringify(stack) });
      assert.equal(r.status, 0, r.all);
      assert.match(r.stdout, /^out\/ is up to date/);
    }
  });

  it("names standard input in errors, and never prints a secret from it", () => {
    const r = runCli(["--params", "-", "--check"], { input: `keystone_admin_password: ${SENTINEL}\nnamespace: [\n` });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: <stdin>:3:1: /m);
    assertNoSentinel(r.stdout, r.stderr);
  });

  it("is read once: a second --params - is a usage error", () => {
    const r = runCli(["--params", "-", "--params", "-", "--check"], { input: "{}" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--params - \(standard input\) may be given once/);
  });
});

describe("cli: errors, exit codes, and no secret ever printed", () => {
  const cases: { name: string; setup?: (cwd: string) => void; args: string[]; code: number; message: RegExp }[] = [
    { name: "missing params file", args: ["--params", "nope.json"], code: 1, message: /^error: nope\.json: no such parameters file$/m },
    { name: "malformed params", setup: (c) => writeFiles(c, { "bad.json": `{"password": "${SENTINEL}",\n "name": }` }), args: ["--params", "bad.json"], code: 1, message: /bad\.json:2:10: invalid JSON: value expected/ },
    { name: "schema violations, all at once", setup: (c) => writeFiles(c, { "bad.json": JSON.stringify({ password: SENTINEL, replicas: "x", url: "not a url" }) }), args: ["--params", "bad.json"], code: 1, message: /(?=[^]*bad\.json:1:\d+: \/replicas: must be an integer\n)(?=[^]*bad\.json:1:\d+: \/url: must match format "uri"\n)(?=[^]*bad\.json: \/name: required parameter is missing\n)[^]*3 problems; nothing was written/ },
    { name: "--set without =", args: ["--params", "params.json", "--set", "name"], code: 2, message: /--set argument 1: expected name=value \(not shown: it may hold a secret\); it starts with name: write name=VALUE/ },
    { name: "--set of an undeclared parameter", args: ["--params", "params.json", "--set", "nmae=x"], code: 2, message: /--set argument 1: the name is not a declared parameter \(did you mean name\?\)/ },
    { name: "a mistyped option suggests the right one", args: ["--parms", "params.json"], code: 2, message: /unknown option parms \(did you mean --params\?\)/ },
    { name: "no --params", args: [], code: 2, message: /Missing required argument: params/ },
    { name: "template syntax error", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "a: {{#if name}}\n" }), args: ["--params", "params.json"], code: 1, message: /kubernetes-in\/bad\.yaml\.hbs:\d+:\d+: syntax error/ },
    { name: "template using an undeclared parameter", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "a: {{passwrd}}\n" }), args: ["--params", "params.json"], code: 1, message: /kubernetes-in\/bad\.yaml\.hbs:1:6: "passwrd" is not a declared parameter \(did you mean "password"\?\)/ },
    { name: "template with an unknown helper", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "a: {{b64 password}}\n" }), args: ["--params", "params.json"], code: 1, message: /kubernetes-in\/bad\.yaml\.hbs:1:4: unknown helper "b64"/ },
    { name: "template output that is not YAML", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "a: [\nb: {{password}}\n" }), args: ["--params", "params.json"], code: 1, message: /kubernetes-in\/bad\.yaml\.hbs:\d+.*output is not valid YAML/ },
    { name: "a secret in a ConfigMap", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  p: {{password}}\n" }), args: ["--params", "params.json"], code: 1, message: /kubernetes-in\/bad\.yaml\.hbs:6:6: secret parameter "password" lands in ConfigMap c at data\.p/ },
    { name: "object invalid against the Kubernetes schema", setup: (c) => writeFiles(c, { "kubernetes-in/bad.yaml.hbs": "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: 80\n" }), args: ["--params", "params.json"], code: 1, message: /Service s: spec\.ports: must be array/ },
    { name: "duplicate objects", setup: (c) => writeFiles(c, { "kubernetes-in/copy.yaml.hbs": WEB_TEMPLATE }), args: ["--params", "params.json"], code: 1, message: /defined twice: in kubernetes-in\/copy\.yaml\.hbs \(document 1\) and in kubernetes-in\/web\.yaml\.hbs/ },
    { name: "templates folder missing", args: ["--params", "params.json", "--templates", "nowhere"], code: 1, message: /nowhere: templates folder does not exist/ },
    { name: "templates folder empty", setup: (c) => fs.mkdirSync(path.join(c, "empty")), args: ["--params", "params.json", "--templates", "empty", "--schema", "params/schema.json"], code: 1, message: /empty: holds no templates/ },
    { name: "incomplete stack", setup: (c) => writeFiles(c, { "stack.json": JSON.stringify({ stack_name: "mystack", stack_status: "CREATE_IN_PROGRESS", outputs: [{ output_key: "password", output_value: SENTINEL }] }) }), args: ["--params", "stack.json"], code: 1, message: /stack\.json:1:\d+: \/stack_status: stack mystack is CREATE_IN_PROGRESS; try again when it is complete/ },
    { name: "output with output_error", setup: (c) => writeFiles(c, { "stack.json": JSON.stringify({ stack_status: "CREATE_COMPLETE", outputs: [{ output_key: "name", output_error: "boom" }] }) }), args: ["--params", "stack.json"], code: 1, message: /stack output "name" has an error: boom/ },
    { name: "an empty params file", setup: (c) => writeFiles(c, { "empty.yaml": "" }), args: ["--params", "empty.yaml"], code: 1, message: /empty\.yaml: is empty/ },
    { name: "a 50 MB params file", setup: (c) => writeFiles(c, { "big.json": `{"name": "${"x".repeat(50 * 1000 * 1000)}"}` }), args: ["--params", "big.json"], code: 1, message: /big\.json: is larger than 8 MiB, the most a parameters file may hold/ },
    { name: "params nested 10,000 levels deep", setup: (c) => writeFiles(c, { "deep.json": '{"name":'.repeat(10000) + "1" + "}".repeat(10000) }), args: ["--params", "deep.json"], code: 1, message: /deep\.json:1:\d+: is nested more than 64 levels deep/ },
    { name: "YAML params nested 2,000 levels deep", setup: (c) => writeFiles(c, { "deep.yaml": Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}a:`).join("\n") + " 1\n" }), args: ["--params", "deep.yaml"], code: 1, message: /deep\.yaml:258:\d+: is nested more than 64 levels deep/ },
    { name: "params that are not an object", setup: (c) => writeFiles(c, { "list.yaml": "- a\n- b\n" }), args: ["--params", "list.yaml"], code: 1, message: /list\.yaml: expected an object of parameter names and values, got a list/ },
    { name: "a pod-level resources: (an indentation slip), behind a gate off in Kubernetes 1.32", setup: (c) => writeFiles(c, { "kubernetes-in/web.yaml.hbs": WEB_TEMPLATE.replace("              containerPort: 80\n", "              containerPort: 80\n      resources:\n        limits:\n          memory: 1Gi\n") }), args: ["--params", "params.json"], code: 1, message: /^error: kubernetes-in\/web\.yaml\.hbs:32:7: Deployment web: spec\.template\.spec\.resources: needs the PodLevelResources feature gate, off by default \(alpha\) in Kubernetes 1\.32/m },
    { name: "a --kube-version that is not a version", args: ["--params", "params.json", "--kube-version", "latest"], code: 2, message: /--kube-version latest: expected a Kubernetes version such as 1\.32/ },
    { name: "--out inside the templates folder", args: ["--params", "params.json", "--out", "kubernetes-in/generated"], code: 1, message: /refusing to write into the templates folder/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code}, a clear message, output untouched, no secret printed`, () => {
      const cwd = chart();
      assert.equal(render(cwd).status, 0);
      c.setup?.(cwd);
      assertFailsLeavingOutput(cwd, c.args, c.code, c.message);
    });
  }

  it("a secret that appears in a message anyway is masked", () => {
    const cwd = chart();
    // The secret's value doubles as a file name the user passes: it must still not be printed.
    const r = runCliHere(["--params", "params.json", "--params", `${SENTINEL}.json`], { cwd });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[secret\]\.json: no such parameters file/);
  });

  it("--help shows every option and an example", () => {
    const r = runCli(["--help"]);
    assert.equal(r.status, 0);
    for (const o of ["--params", "--set", "--out", "--secrets-out", "--inline-secrets", "--check", "--quiet", "Examples:"]) assert.ok(r.stdout.includes(o), o);
  });

  it("--help wraps between words: its lines joined again give back every description", () => {
    const r = runCli(["--help"], { cwd: tmpDir() });
    const joined = r.stdout.split("\n").map((l) => l.trim()).join(" ").replace(/ +/g, " ");
    for (const description of [
      "Renders the templates with the parameters into ordered Kubernetes manifests and an apply script.",
      "parameters file: JSON or YAML, plain or a Heat stack's outputs; - reads standard input (repeatable; later files win)",
      "templates folder (default: ./kubernetes-in, else the shipped OpenStack set)",
    ]) assert.ok(joined.includes(description), `${description}\nin:\n${r.stdout}`);
  });

  it("--output json prints the problems of a failed run on standard output, secrets masked", () => {
    const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE }, { name: "web", password: SENTINEL, replicas: "three" });
    const r = runCliHere(["--params", "params.json", "--output", "json"], { cwd });
    assert.equal(r.status, 1);
    const report = JSON.parse(r.stdout) as { stage: string; exitCode: number; problems: { file?: string; line?: number; column?: number; pointer?: string; message: string }[] };
    assert.equal(report.stage, "validate-params");
    assert.equal(report.exitCode, 1);
    assert.deepEqual(report.problems.map(({ file, pointer, message }) => ({ file, pointer, message })), [{ file: "params.json", pointer: "/replicas", message: "must be an integer" }]);
    assert.ok(Number.isInteger(report.problems[0].line) && Number.isInteger(report.problems[0].column));
    assert.doesNotMatch(r.all, new RegExp(SENTINEL));
    assert.match(r.stderr, /params\.json:\d+:\d+: \/replicas: must be an integer/);
  });

  it("--output json reports a usage error the same way, with exit status 2", () => {
    const r = runCliHere(["--params", "p.json", "--output=json", "--bogus"], { cwd: tmpDir() });
    assert.equal(r.status, 2);
    const report = JSON.parse(r.stdout) as { stage: string; problems: { message: string }[] };
    assert.equal(report.stage, "usage");
    assert.match(report.problems[0].message, /unknown option bogus/);
  });

  it("--version prints the package's version, from any folder", () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version;
    const r = runCli(["--version"], { cwd: tmpDir() });
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), version);
  });
});
