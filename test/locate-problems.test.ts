import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { compileTemplates } from "../src/stages/compile-templates";
import { discoverTemplates } from "../src/stages/discover-templates";
import { mergeParamLayers, parseParamsFile } from "../src/stages/load-params";
import { validateParams } from "../src/stages/validate-params";
import { TOKEN_PATTERN } from "../src/stages/compile-templates";
import { EXAMPLE_PARAMS, problemsOf, renderInMemory, REPO, SECRET_TEMPLATE, SHIPPED_SCHEMA, WEB_TEMPLATE } from "./helpers";

/** The template text at a reported `file:line:col`, from there on. */
function textAt(templates: Record<string, string>, problem: string): string {
  const m = /^tpl\/([^:]+):(\d+):(\d+): /.exec(problem);
  assert.ok(m, `${problem} names a template line and column`);
  return templates[m[1]].split("\n").slice(Number(m[2]) - 1).join("\n").slice(Number(m[3]) - 1);
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
  const layer = parseParamsFile({ path: "example.json", text: JSON.stringify(EXAMPLE_PARAMS) });
  const params = validateParams({ ...mergeParamLayers([layer]), schema: SHIPPED_SCHEMA, schemaFile: "schema.json", sources: ["example.json"] });
  const set = compileTemplates({ files, schema: SHIPPED_SCHEMA });
  const byPath = new Map(files.map((f) => [f.path, f.text.split("\n")]));

  for (const template of set.templates) {
    it(`${template.file.name}: the traced text is the rendered text, and every line maps to the template line that wrote it`, () => {
      const rendered = template.render(params.values, params.secretNames);
      const traced = template.trace(params.values, params.secretNames);
      assert.equal(traced.text, rendered.text);
      let offset = 0;
      let checked = 0;
      for (const line of traced.text.split("\n")) {
        const indent = line.length - line.trimStart().length;
        // From the first character to the first value: text the template wrote as it is.
        const literal = line.slice(indent).split(TOKEN_PATTERN)[0];
        if (literal.trim() !== "") {
          const at = traced.placeAt(offset + indent);
          assert.ok(at?.column, `rendered ${JSON.stringify(line)} has a template line and column`);
          const source = byPath.get(at.file)![at.line - 1].slice(at.column - 1);
          assert.ok(source.startsWith(literal), `${at.file}:${at.line}:${at.column} is ${JSON.stringify(source)}, not ${JSON.stringify(literal)}`);
          checked++;
        }
        offset += line.length + 1;
      }
      assert.ok(checked > 3, `${checked} lines checked`);
    });
  }
});
