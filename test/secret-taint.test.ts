// Attacks on the promise that a secret lands only in a Secret's data or stringData: many
// spellings of the same secret (paths, blocks, @root, ../, block parameters, helper arguments,
// sub-expressions, partials), names every JavaScript object inherits, and every printer of the
// CLI given an out/ that already holds a secret (written by an earlier, unsafe version).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { GenError } from "../src/errors";
import { generate } from "../src/index";
import { serializeManifest } from "../src/kube-yaml";
import type { ParamSchema } from "../src/types";
import { ATTACK_SCHEMA, NASTY_SECRET, runMain, secretForms } from "./secret-helpers";
import { compileTemplates } from "../src/stages/compile-templates";
import { CLI, makeChart, problemsOf, renderInMemory, secretText, templateFiles, writeFiles } from "./helpers";

const SECRET = "SENTINEL-pw-4f1c";

const CM = (value: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${value}\n`;
const CM_DATA = (body: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n${body}`;

function run(templates: Record<string, string>, password = SECRET) {
  return renderInMemory({ templates, schema: ATTACK_SCHEMA, params: { name: "demo", password } });
}

/** Fails unless the run is refused with problems at a template place, none of them quoting a secret. */
function assertRefused(templates: Record<string, string>, place: RegExp, message: RegExp): void {
  let problems: string[];
  try {
    run(templates);
    assert.fail("rendered; expected a refusal");
  } catch (e) {
    assert.ok(e instanceof GenError, `a GenError, not ${String(e)}`);
    problems = e.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  }
  const all = problems.join("\n");
  assert.ok(problems.some((p) => place.test(p) && message.test(p)), all);
  assert.ok(!all.includes("SENTINEL"), all);
}

const FIELD = /of a secret parameter, which has no fields/;
const LANDS = /secret parameter "password" lands in ConfigMap c/;

describe("taint follows the value, not the spelling", () => {
  // The issue's examples first, then every other way to the same value.
  const attacks: { name: string; templates: Record<string, string>; place: RegExp; message: RegExp }[] = [
    { name: "a field of the wrapper", templates: { "t.yaml.hbs": CM("{{password.value}}") }, place: /^tpl\/t\.yaml\.hbs:6:8:/, message: FIELD },
    { name: "the wrapper's field inside #with", templates: { "t.yaml.hbs": "{{#with password}}" + CM("{{value}}") + "{{/with}}" }, place: /^tpl\/t\.yaml\.hbs:6:8:/, message: FIELD },
    { name: "@root and a field", templates: { "t.yaml.hbs": CM("{{@root.password.value}}") }, place: /^tpl\/t\.yaml\.hbs:6:8:/, message: FIELD },
    { name: "a helper called with a field", templates: { "t.yaml.hbs": CM("{{image password.value}}") }, place: /^tpl\/t\.yaml\.hbs:6:14:/, message: FIELD },
    { name: "this.field inside #with", templates: { "t.yaml.hbs": "{{#with password}}" + CM("{{this.value}}") + "{{/with}}" }, place: /:6:8:/, message: FIELD },
    { name: "a block parameter's field", templates: { "t.yaml.hbs": CM("{{#with password as |p|}}{{p.value}}{{/with}}") }, place: /:6:33:/, message: FIELD },
    { name: "../ out of #with", templates: { "t.yaml.hbs": "{{#with obj}}" + CM("{{../password.value}}") + "{{/with}}" }, place: /:6:8:/, message: FIELD },
    { name: "the wrapper's names", templates: { "t.yaml.hbs": "{{#with password}}" + CM("{{names}}") + "{{/with}}" }, place: /:6:8:/, message: FIELD },
    { name: "a character of it", templates: { "t.yaml.hbs": CM("{{password.[0]}}") }, place: /:6:8:/, message: FIELD },
    { name: "its length", templates: { "t.yaml.hbs": CM('"{{password.length}}"') }, place: /:6:9:/, message: FIELD },
    { name: "#each over it", templates: { "t.yaml.hbs": CM("{{#each password}}{{this}}{{/each}}") }, place: /:6:6:/, message: /#each cannot go through a secret parameter/ },
    { name: "#if on a field", templates: { "t.yaml.hbs": CM("{{#if password.value}}x{{/if}}") }, place: /:6:12:/, message: FIELD },
    { name: "a sub-expression's field", templates: { "t.yaml.hbs": CM('{{image "x" tag=@root.password.value}}') }, place: /:6:22:/, message: FIELD },
    // Whole values, by every route: each is tainted where it lands.
    { name: "the whole value", templates: { "t.yaml.hbs": CM("{{password}}") }, place: /:6:6:/, message: LANDS },
    { name: "the whole value through @root", templates: { "t.yaml.hbs": CM("{{@root.password}}") }, place: /:6:6:/, message: LANDS },
    { name: "the whole value through ../", templates: { "t.yaml.hbs": "{{#with obj}}" + CM("{{../password}}") + "{{/with}}" }, place: /:6:6:/, message: LANDS },
    { name: "this inside #with", templates: { "t.yaml.hbs": "{{#with password}}" + CM("{{this}}") + "{{/with}}" }, place: /:6:6:/, message: LANDS },
    { name: "a block parameter", templates: { "t.yaml.hbs": CM("{{#with password as |p|}}{{p}}{{/with}}") }, place: /:6:31:/, message: LANDS },
    { name: "inside a longer text", templates: { "t.yaml.hbs": CM('"user:{{password}}"') }, place: /:6:12:/, message: LANDS },
    { name: "a helper's result", templates: { "t.yaml.hbs": CM("{{image password}}") }, place: /:6:6:/, message: LANDS },
    { name: "a helper's result of a helper's result", templates: { "t.yaml.hbs": CM("{{image (image password)}}") }, place: /:6:6:/, message: LANDS },
    { name: "a sub-expression as #with's context", templates: { "t.yaml.hbs": CM("{{#with (image password)}}{{this}}{{/with}}") }, place: /:6:32:/, message: LANDS },
    { name: "a partial's hash argument", templates: { "t.yaml.hbs": CM("{{> leak x=password}}"), "_leak.hbs": "{{x}}" }, place: /^tpl\/_leak\.hbs:1:1:/, message: LANDS },
    { name: "a partial's context", templates: { "t.yaml.hbs": CM("{{> leak password}}"), "_leak.hbs": "{{this}}" }, place: /^tpl\/_leak\.hbs:1:1:/, message: LANDS },
    { name: "a field in a partial", templates: { "t.yaml.hbs": CM("{{> leak x=password}}"), "_leak.hbs": "{{x.value}}" }, place: /^tpl\/_leak\.hbs:1:1:/, message: /has no value/ },
    { name: "a field of a partial's context", templates: { "t.yaml.hbs": CM("{{> leak password}}"), "_leak.hbs": "{{value}}" }, place: /^tpl\/_leak\.hbs:1:1:/, message: /has no value/ },
    { name: "every parameter at once ({{this}})", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {{this}}\n" }, place: /:5:7:/, message: /secret parameters? "password", "token" lands in ConfigMap c at data/ },
    { name: "every parameter at once ({{@root}})", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {{@root}}\n" }, place: /:5:7:/, message: /"password"/ },
    { name: "#each over @root", templates: { "t.yaml.hbs": CM_DATA("  l:\n{{#each @root}}    - {{this}}\n{{/each}}") }, place: /:7:22:/, message: /secret parameter "password" lands in ConfigMap c at data\.l\[\d+\]/ },
    { name: "a field of each item of @root", templates: { "t.yaml.hbs": CM_DATA("  l:\n{{#each @root}}    - {{value}}\n{{/each}}") }, place: /:7:22:/, message: /has no value/ },
    { name: "#with @root, then a field", templates: { "t.yaml.hbs": "{{#with @root}}" + CM("{{password.value}}") + "{{/with}}" }, place: /:6:8:/, message: FIELD },
    { name: "a Secret's metadata", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    a: {{#with password}}{{this}}{{/with}}\n" }, place: /:6:26:/, message: /lands in Secret s at metadata\.annotations\.a/ },
    // YAML aliases: the node that holds the secret, named again elsewhere in the same object.
    { name: "an alias of stringData under metadata", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nstringData: &x\n  a: {{password}}\nmetadata:\n  name: s\n  annotations: *x\n" }, place: /:4:6:/, message: /lands in Secret s at metadata\.annotations\.a/ },
    { name: "a merge key of stringData under metadata", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nstringData: &x\n  a: {{password}}\nmetadata:\n  name: s\n  labels:\n    <<: *x\n" }, place: /:4:6:/, message: /lands in Secret s at metadata\.labels\.a/ },
    { name: "an alias of an alias", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nstringData: &x\n  a: {{password}}\nx: &y\n  - *x\nmetadata:\n  name: s\n  annotations:\n    k: *y\n" }, place: /:4:6:/, message: /lands in Secret s at metadata\.annotations\.k\[0\]\.a/ },
    { name: "an alias inside the node it names", templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData: &x\n  a: {{password}}\n  b: *x\n" }, place: /:6:6:/, message: /lands in Secret s at stringData\.b\.a/ },
    {
      name: "aliases that repeat it past the bound",
      templates: { "t.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: &a [{{password}}]\n" + ["b", "c", "d", "e", "f", "g"].map((k, i, all) => `  ${k}: &${k} [${Array(5).fill(`*${i ? all[i - 1] : "a"}`).join(", ")}]\n`).join("") },
      place: /^tpl\/t\.yaml\.hbs(:\d+)?:/,
      message: /its aliases repeat a secret parameter in more than 10,000 places/,
    },
  ];
  for (const a of attacks) {
    it(`refuses ${a.name}, at its place, never quoting it`, () => assertRefused(a.templates, a.place, a.message));
  }

  it("lets a secret land in a Secret's data or stringData by any route, whole", () => {
    const result = run({
      "s.yaml.hbs": 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: {{password}}\n  b: {{#with password}}{{this}}{{/with}}\n  c: "{{@root.password}}"\n  d: {{> pw}}\n',
      "_pw.hbs": "{{password}}",
    });
    assert.deepEqual(secretText(result.manifests.find((m) => m.object.kind === "Secret")!.object), { a: SECRET, b: SECRET, c: SECRET, d: SECRET });
    for (const [name, file] of result.trees.out.files) assert.ok(!file.content.includes(SECRET), name);
  });

  it("a secret is an opaque wrapper: no property of it can be read, listed or printed", () => {
    const { SecretValue, unwrap } = require("../src/value-tokens") as typeof import("../src/value-tokens");
    const s = new SecretValue(["password"], SECRET);
    assert.deepEqual(Object.getOwnPropertyNames(s), []);
    assert.equal(String(s), "[secret]");
    assert.equal(JSON.stringify({ s }), '{"s":"[secret]"}');
    assert.deepEqual(unwrap({ a: [1, s] }), { value: { a: [1, SECRET] }, secrets: ["password"] });
  });
});

describe("names every JavaScript object inherits", () => {
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__", "toLocaleString"];
  const forms = [
    (n: string) => CM(`{{${n}}}`),
    (n: string) => CM(`{{name.${n}}}`),
    (n: string) => CM(`{{obj.${n}}}`),
    (n: string) => CM(`{{@root.${n}}}`),
    (n: string) => CM(`{{#with ${n}}}x{{/with}}`),
    (n: string) => CM(`{{#each ${n}}}x{{/each}}`),
    (n: string) => CM(`{{#if ${n}}}x{{/if}}`),
    (n: string) => CM(`{{#each list}}{{${n}}}{{/each}}`),
    (n: string) => "{{#with obj}}" + CM(`{{../${n}}}`) + "{{/with}}",
    (n: string) => CM(`{{${n} "x"}}`),
    (n: string) => CM(`{{image (${n})}}`),
    (n: string) => CM(`{{image "x" tag=${n}}}`),
  ];
  // Declared in the schema: still not a name a template can use (the compiler alone: validating
  // such a schema's parameters is another stage's matter).
  const declaring: ParamSchema = { ...ATTACK_SCHEMA, properties: { ...ATTACK_SCHEMA.properties, ...Object.fromEntries(names.map((n) => [n, { type: "string" }])) } };
  for (const n of names) {
    it(`"${n}" is refused in every form, at its place, with a clear message`, () => {
      for (const form of forms) {
        const template = form(n);
        const problems = [
          ...problemsOf(() => run({ "t.yaml.hbs": template })),
          ...problemsOf(() => compileTemplates({ files: templateFiles({ "t.yaml.hbs": template }), schema: declaring })),
        ];
        assert.ok(problems.length >= 2, problems.join("\n"));
        for (const p of problems) {
          assert.match(p, /^tpl\/t\.yaml\.hbs:\d+:\d+: /);
          assert.ok(p.includes(`"${n}"`) && /inherits/.test(p), `${template}\n${p}`);
        }
      }
    });
  }
});

describe("masking in every printer", () => {
  // An out/ written by an earlier version that let a secret into a ConfigMap: diff prints the old side.
  const leaky = (secret: string): string => serializeManifest({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "leak" }, data: { raw: secret, b64: Buffer.from(`user:${secret}`).toString("base64"), json: JSON.stringify({ pw: secret }) } });
  for (const secret of [SECRET, NASTY_SECRET, "multi\nline secret\n  indented"]) {
    it(`diff, plan, --check, --output json and errors never print ${JSON.stringify(secret)}`, () => {
      const cwd = makeChart({ "web.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: {{name}}\n", "s.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: {{password}}\n" }, { name: "web", password: secret });
      const base = ["--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json"), "--out", path.join(cwd, "out"), "--params", path.join(cwd, "params.json")];
      assert.equal(runMain(base).code, 0);
      writeFiles(cwd, { "out/30-configmap-leak.yaml": leaky(secret), "secrets/30-secret-s.yaml": leaky(secret) });
      // A template that fails, with the secret in a message's reach.
      const runs = [["diff"], ["diff", "--output", "json"], ["plan"], ["plan", "--output", "json"], ["--check"], ["--check", "--output", "json"], ["--output", "json"]];
      for (const extra of runs) {
        const { output } = runMain([...extra, ...base]);
        for (const form of secretForms(secret)) assert.ok(!output.includes(form), `${extra.join(" ")} printed ${JSON.stringify(form)}:\n${output}`);
      }
      fs.writeFileSync(path.join(cwd, "kubernetes-in", "bad.yaml.hbs"), CM("{{password.value}}"));
      const failed = runMain(["--output", "json", ...base]);
      assert.equal(failed.code, 1);
      assert.match(failed.output, /bad\.yaml\.hbs:6:8: password\.value reads "value" of a secret parameter/);
      for (const form of secretForms(secret)) assert.ok(!failed.output.includes(form), failed.output);
    });
  }

  it("--watch: a template that reaches for the secret, then a rotated secret, print and write no form of either", async () => {
    const rotated = `${NASTY_SECRET}-rotated`;
    const cwd = makeChart({ "s.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: {{password}}\n" }, { name: "web", password: NASTY_SECRET });
    const child = spawn(process.execPath, [CLI, "--params", "params.json", "--watch"], { cwd, env: { ...process.env, NO_COLOR: "1" } });
    let printed = "";
    child.stdout.on("data", (d) => (printed += d));
    child.stderr.on("data", (d) => (printed += d));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const waitFor = async (re: RegExp, from: number): Promise<void> => {
      for (const deadline = Date.now() + 20_000; !re.test(printed.slice(from)); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > deadline) assert.fail(`no ${re} in:\n${printed}`);
      }
    };
    try {
      await waitFor(/watching kubernetes-in\//, 0);
      const attacks = [CM("{{password.value}}"), "{{#with password}}" + CM("{{this}}") + "{{/with}}", CM("{{@root.password}}"), CM("{{constructor}}")];
      for (const text of attacks) {
        const from = printed.length;
        fs.writeFileSync(path.join(cwd, "kubernetes-in", "leak.yaml.hbs"), text);
        await waitFor(/error: kubernetes-in\/leak\.yaml\.hbs:\d+:\d+: /, from);
      }
      const from = printed.length;
      fs.writeFileSync(path.join(cwd, "params.json"), JSON.stringify({ name: "web", password: rotated }));
      await waitFor(/error: kubernetes-in\/leak\.yaml\.hbs:\d+:\d+: /, from);
    } finally {
      child.kill("SIGINT");
    }
    await exited;
    const forms = [...secretForms(NASTY_SECRET), ...secretForms(rotated)];
    for (const form of forms) assert.ok(!printed.includes(form), `printed ${JSON.stringify(form)}:\n${printed}`);
    for (const file of fs.readdirSync(path.join(cwd, "out"))) {
      const content = fs.readFileSync(path.join(cwd, "out", file), "utf8");
      for (const form of forms) assert.ok(!content.includes(form), `out/${file} holds ${JSON.stringify(form)}`);
    }
  });

  it("the in-memory API's errors never quote a secret", () => {
    const cwd = makeChart({ "t.yaml.hbs": CM("{{password}}") }, { name: "web", password: SECRET });
    assert.throws(
      () => generate({ params: "params.json", cwd, templatesDir: path.join(cwd, "kubernetes-in"), schemaFile: path.join(cwd, "params", "schema.json") }),
      (e: Error) => e instanceof GenError && /lands in ConfigMap c/.test(e.message) && !e.message.includes(SECRET),
    );
  });
});
