import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { compileTemplates } from "../src/stages/compile-templates";
import { discoverTemplates } from "../src/stages/discover-templates";
import { mergeParamLayers, parseParamsFile } from "../src/stages/load-params";
import { validateParams } from "../src/stages/validate-params";
import type { TracedText } from "../src/value-tokens";
import fc from "fast-check";
import { EXAMPLE_PARAMS, problemsOf, renderInMemory, REPO, SECRET_TEMPLATE, SHIPPED_SCHEMA, templateFiles, TEST_SCHEMA, WEB_TEMPLATE } from "./helpers";

/** The template text at a reported `file:line:col`, from there on. */
function textAt(templates: Record<string, string>, problem: string): string {
  const m = /^tpl\/([^:]+):(\d+):(\d+): /.exec(problem);
  assert.ok(m, `${problem} names a template line and column`);
  return templates[m[1]].split("\n").slice(Number(m[2]) - 1).join("\n").slice(Number(m[3]) - 1);
}

/**
 * Every character of the traced text maps to where the template wrote it: the same character in
 * template text, a `{{` where a value was printed, or (in a partial's indentation, which
 * Handlebars adds) a line without a column.
 */
function assertEveryCharacterPlaced(traced: TracedText, sources: Map<string, string[]>): number {
  let checked = 0;
  for (let offset = 0; offset < traced.text.length; offset++) {
    const c = traced.text[offset];
    if (c === "\n") continue;
    const at = traced.placeAt(offset);
    assert.ok(at, `offset ${offset} has a place`);
    const line = sources.get(at.file)?.[at.line - 1];
    assert.ok(line !== undefined, `${at.file}:${at.line} exists`);
    if (at.column === undefined) {
      assert.match(c, /\s/, `only indentation has no column (offset ${offset})`);
      continue;
    }
    const written = line.slice(at.column - 1);
    assert.ok(written[0] === c || written.startsWith("{{"), `${at.file}:${at.line}:${at.column} is ${JSON.stringify(written.slice(0, 20))} for ${JSON.stringify(c)} at offset ${offset} of ${JSON.stringify(traced.text)}`);
    checked++;
  }
  return checked;
}

const DEPLOYMENT = (name: string, env: string): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: main
          image: nginx:1.27
          env:
            ${env}
`;

describe("locate-problems: a problem in a rendered object names the template line that wrote it", () => {
  it("a mistake in a partial is reported once, at the partial's line, naming who included it", () => {
    const templates = {
      "_secret-env.hbs": "- name: PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: {{name}}-secret\n      kye: password\n",
      "a.yaml.hbs": DEPLOYMENT("a", "{{> secret-env}}"),
      "b.yaml.hbs": DEPLOYMENT("b", "{{> secret-env}}"),
      "s.yaml.hbs": SECRET_TEMPLATE,
    };
    const problems = problemsOf(() => renderInMemory({ templates, params: { name: "web", password: "p" } }));
    const unknown = problems.filter((p) => p.includes("kye"));
    assert.equal(unknown.length, 1, problems.join("\n"));
    assert.match(unknown[0], /^tpl\/_secret-env\.hbs:5:7: Deployment a: spec\.template\.spec\.containers\[0\]\.env\[0\]\.valueFrom\.secretKeyRef\.kye: unknown field; did you mean key\? \(via tpl\/a\.yaml\.hbs\); the same in 1 more place \(in Deployment b\)$/);
    assert.ok(textAt(templates, unknown[0]).startsWith("kye: password"));
  });

  it("a wrong value that came from a parameter is reported where the template prints it", () => {
    const templates = { "web.yaml.hbs": WEB_TEMPLATE.replace("replicas: {{replicas}}", "replicas: {{name}}") };
    const problems = problemsOf(() => renderInMemory({ templates, params: { name: "web", password: "p" } }));
    const replicas = problems.find((p) => p.includes("spec.replicas: must be integer"));
    assert.ok(replicas, problems.join("\n"));
    assert.ok(textAt(templates, replicas).startsWith("{{name}}"), replicas);
  });

  it("a field missing from a mapping points at the mapping", () => {
    const templates = { "web.yaml.hbs": WEB_TEMPLATE.replace("        - name: web\n          image: nginx:1.27\n", "        - image: nginx:1.27\n") };
    const problems = problemsOf(() => renderInMemory({ templates, params: { name: "web", password: "p" } }));
    assert.ok(textAt(templates, problems[0]).startsWith("image: nginx:1.27"), problems[0]);
  });

  it("output that is not YAML names the template line, even below an included partial", () => {
    const templates = {
      "_many.hbs": "  a: '1'\n  b: '2'\n  c: '3'\n",
      "cm.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  {{> many}}\n  bad: x: y\n",
    };
    const problems = problemsOf(() => renderInMemory({ templates }));
    assert.match(problems[0], /^tpl\/cm\.yaml\.hbs:7:\d+: output is not valid YAML \(rendered line 9: "bad: x: y"\)/);
  });

  it("output that is not YAML inside a partial names the partial", () => {
    const templates = {
      "_bad.hbs": "  a: '1'\n  b: x: y\n",
      "cm.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  {{> bad}}\n  c: d\n",
    };
    const problems = problemsOf(() => renderInMemory({ templates }));
    assert.match(problems[0], /^tpl\/_bad\.hbs:2:\d+: output is not valid YAML \(rendered line 7: "b: x: y"\): .*\(via tpl\/cm\.yaml\.hbs\)$/);
  });
});

describe("locate-problems: tracing the shipped OpenStack set", () => {
  const files = discoverTemplates(path.join(REPO, "kubernetes-in"), "kubernetes-in");
  // With a database administrator's password, so that the database-create job renders too.
  const layer = parseParamsFile({ path: "example.json", text: JSON.stringify({ ...EXAMPLE_PARAMS, database_admin_password: "example-db-admin" }) });
  const params = validateParams({ ...mergeParamLayers([layer]), schema: SHIPPED_SCHEMA, schemaFile: "schema.json", sources: ["example.json"] });
  const set = compileTemplates({ files, schema: SHIPPED_SCHEMA });
  const byPath = new Map(files.map((f) => [f.path, f.text.split("\n")]));

  for (const template of set.templates) {
    it(`${template.file.name}: the traced text is the rendered text, and every character maps to where the template wrote it`, () => {
      const rendered = template.render(params.values, params.secretNames);
      const traced = template.trace(params.values, params.secretNames);
      assert.equal(traced.text, rendered.text);
      const checked = assertEveryCharacterPlaced(traced, byPath);
      assert.ok(checked > 100, `${checked} characters checked`);
    });
  }
});

describe("locate-problems: tracing random templates (property)", () => {
  const word = fc.stringMatching(/^[a-z]{1,6}$/);
  const indent = fc.constantFrom("", "  ", "    ");
  /** One line, or a block of lines, of a template; partial includes only in the main template. */
  const line = (withPartial: boolean): fc.Arbitrary<string> =>
    fc.oneof(
      fc.tuple(indent, word, word).map(([i, k, v]) => `${i}${k}: ${v}`),
      fc.tuple(indent, word).map(([i, k]) => `${i}${k}: {{name}}`),
      fc.tuple(indent, word).map(([i, k]) => `${i}- ${k} {{replicas}} ${k}`),
      fc.tuple(indent, word, word).map(([i, k, v]) => `${i}${k}: {{#if flag}}${v}{{else}}no{{/if}} {{name}}`),
      fc.tuple(indent, word, word).map(([i, a, b]) => `{{#if flag}}\n${i}${a}: yes\n{{else}}\n${i}${b}: no\n{{/if}}`),
      fc.tuple(indent, word).map(([i, k]) => `{{#with obj}}\n${i}${k}: {{cpu}}\n{{/with}}`),
      ...(withPartial ? [indent.map((i) => `${i}{{> part}}`)] : []),
    );
  const text = (withPartial: boolean) => fc.array(line(withPartial), { minLength: 1, maxLength: 12 }).map((ls) => `${ls.join("\n")}\n`);

  it("the traced text is the rendered text, and every character maps to where the template wrote it", () => {
    fc.assert(
      fc.property(text(true), text(false), fc.boolean(), (main, part, flag) => {
        const files = templateFiles({ "a.yaml.hbs": main, "_part.hbs": part });
        const set = compileTemplates({ files, schema: TEST_SCHEMA });
        const values = { name: "n", password: "p", replicas: 2, flag, obj: { cpu: "100m" } };
        const [template] = set.templates;
        const rendered = template.render(values, new Set(["password"]));
        const traced = template.trace(values, new Set(["password"]));
        assert.equal(traced.text, rendered.text);
        assertEveryCharacterPlaced(traced, new Map(files.map((f) => [f.path, f.text.split("\n")])));
      }),
      { numRuns: 300 },
    );
  });
});
