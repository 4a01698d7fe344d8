// Fuzzing the secret promise: templates built from every dangerous name and form (paths into a
// secret, #with/#each/#if, @root, ../, block parameters, helper arguments, sub-expressions,
// partials, names every object inherits), placed anywhere in a Kubernetes object. Whatever the
// template, no form of a secret is written into out/ or printed by any command, nothing ends in an
// internal error, and each case finishes within a bound.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GenError } from "../src/errors";
import { generate } from "../src/index";
import { makeChart, snapshot } from "./helpers";
import { ATTACK_SCHEMA, NASTY_SECRET, runMain, secretForms } from "./secret-helpers";

// Generated templates would fill the shared compile cache with entries no one uses again.
process.env.GEN_MANIFESTS_CACHE = "off";

/** Per case, on a shared machine: a hang or a blow-up shows as many times this. */
const CASE_BOUND_MS = 15_000;

const TOKEN = "FUZZ-token-secret-0a9e";
const params = { name: "web", password: NASTY_SECRET, token: TOKEN };
const partials = { "_leakx.hbs": "{{x}}", "_leakthis.hbs": "{{this}}", "_leakroot.hbs": "{{@root.password}}" };
const cwd = makeChart({ ...partials, "secret.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: base\nstringData:\n  p: {{password}}\n" }, params, ATTACK_SCHEMA);
const templateFile = path.join(cwd, "kubernetes-in", "fuzz.yaml.hbs");
const base = ["--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json"), "--out", path.join(cwd, "out"), "--params", path.join(cwd, "params.json")];
const forms = [...secretForms(NASTY_SECRET), ...secretForms(TOKEN)];

const INHERITED = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "__lookupGetter__"];

/** Expressions that name a value, a secret, a field of one, or something every object inherits. */
const reference: fc.Arbitrary<string> = fc.oneof(
  // Plain values, weighted so that about one case in six renders and the harmless path is tried too.
  { arbitrary: fc.constantFrom("name", "@root.name", "../name", "obj.cpu", "this.name"), weight: 2 },
  fc.constantFrom("password", "token", "@root.password", "../password", "this", "p", "@root", "name", "obj", "list", "obj.cpu", "@key", "@index"),
  fc.constantFrom("password.value", "password.names", "@root.password.value", "this.value", "value", "names", "p.value", "../password.value", "password.[0]", "password.length", "token.value"),
  fc.constantFrom(...INHERITED).chain((n) => fc.constantFrom(n, `name.${n}`, `obj.${n}`, `@root.${n}`, `password.${n}`, `../${n}`, `p.${n}`)),
);

/** A piece of template that prints something, built around a reference, nested up to three deep. */
const printing: fc.Arbitrary<string> = fc.letrec<{ piece: string }>((tie) => ({
  piece: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    reference.map((r) => `{{${r}}}`),
    reference.map((r) => `{{image ${r}}}`),
    reference.map((r) => `{{image "x" tag=${r}}}`),
    reference.map((r) => `{{image (image ${r})}}`),
    fc.tuple(reference, tie("piece")).map(([r, inner]) => `{{#with ${r}}}${inner}{{/with}}`),
    fc.tuple(reference, tie("piece")).map(([r, inner]) => `{{#with ${r} as |p|}}${inner}{{/with}}`),
    fc.tuple(reference, tie("piece")).map(([r, inner]) => `{{#each ${r}}}${inner}{{/each}}`),
    fc.tuple(reference, tie("piece")).map(([r, inner]) => `{{#if ${r}}}${inner}{{else}}e{{/if}}`),
    fc.tuple(reference, tie("piece")).map(([r, inner]) => `{{#with (image ${r})}}${inner}{{/with}}`),
    reference.map((r) => `{{> leakx x=${r}}}`),
    reference.map((r) => `{{> leakthis ${r}}}`),
    fc.constant("{{> leakroot}}"),
  ),
})).piece;

/** Where in an object the printed piece stands. */
const landing = fc.constantFrom(
  (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${v}\n`,
  (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: "pre-${v}-post"\n`,
  (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    a: ${v}\n`,
  (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    l: ${v}\ndata:\n  l:\n    - ${v}\n`,
  (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: ${v}\n`,
  (v: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: ${v}\n`,
  (v: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    a: ${v}\nstringData:\n  a: x\n`,
  (v: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: x\n      env:\n        - name: E\n          value: ${v}\n`,
  (v: string) => `# {{!-- a comment --}} ${v}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n`,
  (v: string) => `apiVersion: v1\nkind: Secret\nstringData: &x\n  a: ${v}\nmetadata:\n  name: s\n  annotations: *x\n`,
  (v: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData: &x\n  a: ${v}\n  b: *x\n`,
);

/** Where a secret's value stands in an object, other than directly under a Secret's data or stringData. */
function misplaced(object: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (v: unknown, at: (string | number)[]): void => {
    if (typeof v === "string") {
      const allowed = object.kind === "Secret" && at.length === 2 && (at[0] === "data" || at[0] === "stringData");
      if (!allowed && [NASTY_SECRET, TOKEN].some((s) => v.includes(s))) found.push(at.join("."));
    } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...at, Array.isArray(v) ? Number(k) : k]);
  };
  walk(object, []);
  return found;
}

const template = fc.tuple(landing, printing).map(([place, piece]) => place(piece));

/** Every form of every secret, in every file of a folder. */
function leakedInto(dir: string): string[] {
  return Object.entries(snapshot(dir)).flatMap(([file, content]) => forms.filter((f) => content.includes(f)).map((f) => `${file}: ${JSON.stringify(f)}`));
}

function assertNoSecretPrinted(what: string, output: string): void {
  for (const f of forms) assert.ok(!output.includes(f), `${what} printed ${JSON.stringify(f)}:\n${output}`);
  assert.doesNotMatch(output, /internal error/, `${what}:\n${output}`);
  assert.doesNotMatch(output, /\n\s+at .+:\d+:\d+\)?\n/, `${what}: a stack trace`);
  assert.doesNotMatch(output, /Handlebars: Access has been denied/, `${what}: Handlebars' console warning`);
}

describe("fuzz: secrets stay secret, whatever the template", () => {
  it("render, diff, plan and the in-memory API: no secret out, no internal error, within the bound", () => {
    assert.equal(runMain(base).code, 0);
    const exits = [0, 0];
    fc.assert(
      fc.property(template, (text) => {
        const started = performance.now();
        fs.writeFileSync(templateFile, text);
        const rendered = runMain(["--output", "json", ...base]);
        assert.ok([0, 1].includes(rendered.code), `exit ${rendered.code}`);
        exits[rendered.code]++;
        assertNoSecretPrinted(`render of ${JSON.stringify(text)}`, rendered.output);
        assert.deepEqual(leakedInto(path.join(cwd, "out")), [], text);
        for (const extra of [["diff"], ["diff", "--output", "json"], ["plan"]]) assertNoSecretPrinted(`${extra.join(" ")} of ${JSON.stringify(text)}`, runMain([...extra, ...base]).output);
        let result: ReturnType<typeof generate> | undefined;
        try {
          result = generate({ params: "params.json", cwd, templatesDir: path.join(cwd, "kubernetes-in"), schemaFile: path.join(cwd, "params", "schema.json") });
        } catch (e) {
          assert.ok(e instanceof GenError, `generate: ${String(e)}`);
          assertNoSecretPrinted(`generate of ${JSON.stringify(text)}`, e.message);
        }
        if (result) {
          const out = Object.values(result.files.out ?? {}).join("\n");
          for (const f of forms) assert.ok(!out.includes(f), `generate's out/ holds ${JSON.stringify(f)}`);
          for (const o of result.objects) assert.deepEqual(misplaced(o as unknown as Record<string, unknown>), [], `${JSON.stringify(text)}: a secret outside a Secret's data`);
        }
        const took = performance.now() - started;
        assert.ok(took < CASE_BOUND_MS, `${Math.round(took)} ms for ${JSON.stringify(text)}`);
      }),
      // A fixed seed in everyday runs, so that the coverage check below never depends on luck;
      // `npm test -- --deep` draws new cases, five times as many.
      process.env.GEN_MANIFESTS_DEEP_TESTS ? { numRuns: 600 } : { numRuns: 120, seed: 20261203 },
    );
    // Both kinds of case were tried: templates that render (a secret in a Secret, or none) and refused ones.
    assert.ok(exits[0] >= 5 && exits[1] >= 5, `rendered ${exits[0]}, refused ${exits[1]}`);
  });
});
