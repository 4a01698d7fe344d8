import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { problemsOf, renderInMemory, secretText, WEB_TEMPLATE } from "./helpers";

const CM = (data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n${data}`;

/** The objects a template set renders, by kind/name. */
function objects(templates: Record<string, string>, params?: Record<string, unknown>) {
  const result = renderInMemory({ templates, params });
  return Object.fromEntries(result.manifests.map((m) => [`${m.object.kind}/${m.object.metadata.name}`, m.object as Record<string, any>]));
}

describe("compile-templates: a syntax error in words, at the tag to fix (never the parser's token names)", () => {
  const cases: { name: string; text: string; error: string }[] = [
    { name: "an unclosed {{#if}}, at the {{#if}}, not at the end of the file", text: "a: 1\n{{#if flag}}\nb: 2\nc: 3\n", error: "2:1: syntax error: {{#if}} is never closed: expected {{/if}} before the end of the file" },
    { name: "an unclosed block inside another, at its own opening", text: "{{#each xs}}\n  {{#if flag}}\n  x: 1\n{{/each}}\n", error: "2:3: syntax error: {{#if}} is never closed: expected {{/if}} before the {{/each}} at line 4" },
    { name: "a close of another name, at the block it was meant for", text: "x:\n  {{#if flag}}\n  y: 1\n  {{/each}}\n", error: "2:3: syntax error: {{#if}} is closed by {{/each}} at line 4: expected {{/if}}" },
    { name: "a close with no block", text: "a: 1\n{{/if}}\n", error: "2:1: syntax error: {{/if}} closes no open block" },
    { name: "an {{else}} outside any block", text: "a: 1\n{{else}}\n", error: "2:1: syntax error: {{else}} outside any block: it belongs between a {{#if}} or {{#each}} and its {{/if}} or {{/each}}" },
    { name: "two plain {{else}}", text: "{{#if flag}}a{{else}}b{{else}}c{{/if}}\n", error: "1:23: syntax error: {{else}} after the {{else}} at 1:14 of the {{#if}} at line 1: a block has at most one plain {{else}}, and it comes last" },
    { name: "a tag never closed, at its {{", text: "a: {{name\nb: 2\n", error: "1:4: syntax error: the tag {{name is never closed: expected }}" },
    { name: "{{{ closed with }}", text: "a: {{{name}}\n", error: "1:4: syntax error: the tag {{{name opens with {{{ and closes with }}: expected }}}" },
    { name: "an empty tag", text: "a: {{}}\n", error: "1:4: syntax error: the tag {{}} is empty: expected a name inside it" },
    { name: "a ( never closed", text: "a: {{image (x}}\n", error: "1:14: syntax error: a ( is never closed: expected ) before }}" },
    { name: "a string never closed", text: 'a: {{image "x}}\n', error: '1:12: syntax error: a string is never closed: expected a closing " before }}' },
    { name: "a comment never closed", text: "a: 1\n{{!-- note\nb: 2\n", error: "2:1: syntax error: the comment {{!-- is never closed: expected --}}" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": c.text } }));
      assert.deepEqual(problems, [`tpl/a.yaml.hbs:${c.error}`]);
      assert.doesNotMatch(problems[0], /[A-Z]{3,}_|CLOSE|OPEN|EOF/, "no token names");
    });
  }
});

describe("compile-templates: every error names the template, line and column", () => {
  const cases: { name: string; templates: Record<string, string>; error: string | RegExp }[] = [
    { name: "unclosed mustache", templates: { "a.yaml.hbs": "a: 1\nb: {{name}\n" }, error: 'tpl/a.yaml.hbs:2:4: syntax error: the tag {{name is never closed: expected }}, found "}"' },
    { name: "mismatched block", templates: { "a.yaml.hbs": "{{#if flag}}\nx: 1\n{{/unless}}\n" }, error: "tpl/a.yaml.hbs:1:1: syntax error: {{#if}} is closed by {{/unless}} at line 3: expected {{/if}}" },
    { name: "undeclared parameter", templates: { "a.yaml.hbs": CM("  a: {{nme}}\n") }, error: 'tpl/a.yaml.hbs:6:8: "nme" is not a declared parameter (did you mean "name"?); declare it in params/schema.json' },
    { name: "undeclared parameter inside a block", templates: { "a.yaml.hbs": `{{#if flag}}\n${CM("  a: {{other}}\n")}{{/if}}\n` }, error: /^tpl\/a\.yaml\.hbs:7:8: "other" is not a declared parameter/ },
    { name: "undeclared parameter as a helper argument", templates: { "a.yaml.hbs": CM('  a: {{image nope}}\n') }, error: /"nope" is not a declared parameter/ },
    { name: "unknown helper", templates: { "a.yaml.hbs": CM("  a: {{upper name}}\n") }, error: /^tpl\/a\.yaml\.hbs:6:6: unknown helper "upper"; known helpers: image, uri_component and the blocks #if, #unless, #each, #with, #config$/ },
    { name: "unknown block helper", templates: { "a.yaml.hbs": "{{#repeat name}}x{{/repeat}}\n" }, error: /^tpl\/a\.yaml\.hbs:1:1: unknown block helper "#repeat"/ },
    { name: "the log helper is not available", templates: { "a.yaml.hbs": "{{log password}}\n" }, error: /unknown helper "log"/ },
    { name: "missing partial", templates: { "a.yaml.hbs": "{{> nothere}}\n" }, error: /^tpl\/a\.yaml\.hbs:1:1: no partial named "nothere" \(expected a file _nothere\.hbs\)$/ },
    {
      name: "partial using a name nobody passes",
      templates: { "_p.hbs": "x: {{thing}}\n", "a.yaml.hbs": "{{> p}}\n" },
      error: 'tpl/a.yaml.hbs:1:1: partial "p" uses "thing" (at tpl/_p.hbs:1:6), which is neither a declared parameter nor passed to it',
    },
    { name: "reserved token text", templates: { "a.yaml.hbs": "a: GMv9x1xGM\n" }, error: /^tpl\/a\.yaml\.hbs:1:4: contains "GMv9x", which the compiler reserves$/ },
    { name: "unknown phase directive", templates: { "a.yaml.hbs": "{{!-- gen-manifests: phase=later --}}\n" }, error: /^tpl\/a\.yaml\.hbs:1:1: unknown phase "later"; expected one of namespaces, / },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(() => renderInMemory({ templates: c.templates }));
      const found = problems.some((p) => (typeof c.error === "string" ? p === c.error : c.error.test(p)));
      assert.ok(found, `expected ${c.error} among:\n${problems.join("\n")}`);
    });
  }

  it("reports problems of every template at once, before rendering any", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": "{{nope1}}\n", "b.yaml.hbs": "{{#if}}\n", "c.yaml.hbs": "{{nope2}}\n" } }));
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.deepEqual(problems.map((p) => p.split(":")[0]), ["tpl/a.yaml.hbs", "tpl/b.yaml.hbs", "tpl/c.yaml.hbs"]);
  });
});

describe("render: a template's own scalars are read as kubectl reads them", () => {
  it("true and false are booleans (a Pod's readOnly: true passes the checks and is written unquoted)", () => {
    const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  automountServiceAccountToken: false\n  containers:\n    - name: c\n      image: x:1\n      volumeMounts:\n        - name: v\n          mountPath: /v\n          readOnly: True\n  volumes:\n    - name: v\n      emptyDir: {}\n";
    const spec = objects({ "p.yaml.hbs": pod })["Pod/p"].spec;
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.containers[0].volumeMounts[0].readOnly, true);
  });

  it("0644 is octal, as Go reads it: a Secret volume's defaultMode is 420, not 644 (which the API server refuses)", () => {
    const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: x:1\n  volumes:\n    - name: v\n      secret:\n        secretName: s\n        defaultMode: 0644\n";
    const secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n";
    const result = renderInMemory({ templates: { "p.yaml.hbs": pod, "s.yaml.hbs": secret } });
    const written = [...result.trees.out!.files].find(([name]) => name.includes("pod-p"))![1].content;
    assert.match(written, /defaultMode: 420\n/);
  });
});

describe("render: values are data, never structure", () => {
  const nasty = [
    "a: b", "# not a comment", "'single' \"double\"", "{}[]&*!|>%@`", "back\\slash", "line1\nline2", "tab\there",
    " leading", "trailing ", "ünïcødé ✓", "true", "no", "yes", "on", "off", "y", "n", "null", "~", "0x1F", "0o17", "1e3",
    "12:30", "2026-01-01", ".inf", "", "- item", "key: [1, 2]", "---", "...", "%YAML 1.1", "&anchor", "*alias", "!!int 3",
    "<<", "=", "?", "@", "1_000", "017", "+1", "NaN", "\\n literal", "a\n\n  b\n", "x\r\ny", ".", "-.", "1.2.3", "+.5e+3", "E0", "\n ", " \n", "a \nb",
  ];
  for (const value of nasty) {
    it(`the string ${JSON.stringify(value)} arrives exactly, in a plain and a quoted position`, () => {
      const out = objects({ "a.yaml.hbs": CM(`  plain: {{name}}\n  quoted: "{{name}}"\n  inside: "pre-{{name}}-post"\n`) }, { name: value || "x", password: "p" });
      if (value === "") return;
      const data = out["ConfigMap/cm"].data;
      assert.deepEqual(data, { plain: value, quoted: value, inside: `pre-${value}-post` });
    });
  }

  it("the written bytes read back to the same strings under YAML 1.1 (what Kubernetes reads)", () => {
    for (const value of nasty.filter((v) => v !== "")) {
      const result = renderInMemory({ templates: { "a.yaml.hbs": CM("  v: {{name}}\n") }, params: { name: value, password: "p" } });
      const written = result.trees.out.files.get("30-configmap-cm.yaml")!.content;
      assert.equal(parse(written, { version: "1.1" }).data.v, value, written);
    }
  });

  it("keeps the type of numbers, booleans and objects in a plain position", () => {
    const out = objects({
      "a.yaml.hbs": "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  num: {{replicas}}\n  b: {{flag}}\n  o: {{obj}}\n  s: \"{{replicas}}\"\n",
    }, { name: "x", password: "p", replicas: 1000000, flag: true, obj: { cpu: "1", nested: { list: [1, "two"] } } });
    assert.deepEqual(out["Thing/t"].spec, { num: 1000000, b: true, o: { cpu: "1", nested: { list: [1, "two"] } }, s: "1000000" });
  });

  it("writes 1000000 as 1000000, never 1e+06", () => {
    const result = renderInMemory({ templates: { "a.yaml.hbs": WEB_TEMPLATE }, params: { name: "web", password: "p", replicas: 1000000 } });
    assert.match(result.trees.out.files.get("70-deployment-web.yaml")!.content, /replicas: 1000000\n/);
  });

  it("a template's structure does not depend on the values: a parameter may not be a key", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  {{name}}: x\n") } }));
    assert.deepEqual(problems, ["tpl/a.yaml.hbs:6:3: {{name}} stands in a mapping key; a parameter may only be a value"]);
  });

  it("a problem in a loop is listed once, not once per iteration", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  {{#each obj}}\n  k{{@index}}: v\n  {{/each}}\n") }, params: { name: "n", password: "p", obj: { a: 1, b: 2, c: 3 } } }));
    assert.deepEqual(problems, ["tpl/a.yaml.hbs:7:4: {{@index}} stands in a mapping key; a parameter may only be a value"]);
  });

  it("a value in a YAML comment is an error, not silently dropped", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  a: b # {{name}}\n") } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:6:10: the value of \{\{name\}\} does not reach any manifest/);
  });

  it("an object cannot be spliced into a longer text", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  a: x-{{obj}}\n") } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:6:8: \{\{obj\}\} is an object; only a whole value/);
  });

  it("a field of a string parameter is an error that never quotes the value", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  a: {{password.length}}\n") }, params: { name: "n", password: "SENTINEL-secret" } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:6:8: password\.length reads "length" of a secret parameter, which has no fields/);
    assert.doesNotMatch(problems.join("\n"), /SENTINEL/);
  });

  it("output that is not YAML names the template and the line", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": "a: 1\nb: [\nc: {{name}}\n" } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:\d+(:\d+)?: output is not valid YAML \(rendered line \d+: /);
  });

  it("an integer a number cannot hold is refused at its place in the template, not written as another", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  a: x\nspec:\n  n: 9007199254740993\n") } }));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:8:6: output has a number gen-manifests cannot write back \(rendered line 8: "n: 9007199254740993"\): the integer 9007199254740993 cannot be kept exactly/);
  });

  it("an alias bomb is refused, not expanded", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nx:\n  ${bomb.split("\n").join("\n  ")}\n` } }));
    assert.match(problems[0], /document 1: expands to more than 1,000,000 nodes through aliases/);
  });

  it("an alias without its anchor is a YAML error naming the template (found by the fuzzer)", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": "*a\n" } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:1:3: output is not valid YAML \(rendered line 1: "\*a"\): unidentified alias "a"$/);
  });

  it("a document that is not a Kubernetes object is an error", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": "- a\n- b\n---\nkind: X\n" } }));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:1: document 1: expected a Kubernetes object/);
    assert.match(problems[1], /^tpl\/a\.yaml\.hbs:4: document 2: expected a Kubernetes object; missing apiVersion, metadata\.name$/);
  });

  it("a key named __proto__ is data like any other (a ConfigMap may have one), with or without a value put in", () => {
    const out = objects({ "a.yaml.hbs": CM("  __proto__: {{name}}\n  a: b\n") + "binaryData:\n  __proto__: aGk=\n" }, { name: "web", password: "p" });
    const cm = out["ConfigMap/cm"];
    assert.deepEqual(Object.keys(cm.data), ["__proto__", "a"]);
    assert.equal(Object.getOwnPropertyDescriptor(cm.data, "__proto__")?.value, "web");
    assert.equal(Object.getOwnPropertyDescriptor(cm.binaryData, "__proto__")?.value, "aGk=");
    assert.equal(Object.getPrototypeOf(cm.data), Object.prototype);
  });

  it("a value inside an anchored node reaches every alias of it, and is reported once", () => {
    const tpl = (label: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: &l\n    app: ${label}\n  annotations: *l\ndata:\n  a: &v {{name}}\n  b: *v\n`;
    const cm = objects({ "a.yaml.hbs": tpl("{{name}}") }, { name: "web", password: "p" })["ConfigMap/cm"];
    assert.deepEqual([cm.metadata.labels, cm.metadata.annotations, cm.data], [{ app: "web" }, { app: "web" }, { a: "web", b: "web" }]);
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": tpl("x-{{obj}}") } }));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /^tpl\/a\.yaml\.hbs:6:12: \{\{obj\}\} is an object/);
  });

  it("several documents make several objects; empty ones are skipped", () => {
    const out = objects({ "a.yaml.hbs": `---\n# nothing\n---\n${WEB_TEMPLATE}---\n` }, { name: "web", password: "p" });
    assert.deepEqual(Object.keys(out).sort(), ["Deployment/web", "Service/web"]);
  });

  it("partials are indented where they are included and take arguments", () => {
    const out = objects({ "_labels.hbs": "app: {{app}}\ntier: web\n", "a.yaml.hbs": CM('  {{> labels app=name}}\n  other: "1"\n') }, { name: "shop", password: "p" });
    assert.deepEqual(out["ConfigMap/cm"].data, { app: "shop", tier: "web", other: "1" });
  });

  it("the image helper builds registry/prefix/name:tag, with no leading slash for the default registry", () => {
    const schema = { type: "object", properties: { docker_registry: { type: "string" }, docker_image_prefix: { type: "string" }, image_tag: { type: "string" } } };
    const tpl = { "a.yaml.hbs": CM('  image: {{image "keystone"}}\n') };
    const run = (params: Record<string, unknown>) => renderInMemory({ templates: tpl, params, schema }).manifests[0].object as Record<string, any>;
    assert.equal(run({ docker_registry: "", docker_image_prefix: "anguslees", image_tag: "2014.2" }).data.image, "anguslees/keystone:2014.2");
    assert.equal(run({ docker_registry: "reg.example.com:4999", docker_image_prefix: "os", image_tag: "1" }).data.image, "reg.example.com:4999/os/keystone:1");
  });

  it("uri_component percent-encodes a value for a URL (every character that ends or changes a part of it)", () => {
    const out = objects({ "a.yaml.hbs": CM('  url: "rabbit://{{uri_component name}}@h/"\n') }, { name: ` a:b@c/d?e#f%g$h'i(j)*k!l+m é`, password: "p" });
    assert.equal(out["ConfigMap/cm"].data.url, "rabbit://%20a%3Ab%40c%2Fd%3Fe%23f%25g%24h%27i%28j%29%2Ak%21l%2Bm%20%C3%A9@h/");
    assert.equal(decodeURIComponent(out["ConfigMap/cm"].data.url.slice(9, -3)), ` a:b@c/d?e#f%g$h'i(j)*k!l+m é`);
  });
});

describe("render: secrets stay secret", () => {
  const secretPlaces = [
    { name: "an env value", tpl: WEB_TEMPLATE.replace("              containerPort: 80\n", "              containerPort: 80\n          env:\n            - name: P\n              value: {{password}}\n"), where: /Deployment web at spec\.template\.spec\.containers\[0\]\.env\[0\]\.value/ },
    { name: "a ConfigMap", tpl: CM("  p: {{password}}\n"), where: /ConfigMap cm at data\.p/ },
    { name: "an annotation", tpl: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    a: x{{password}}\n", where: /ConfigMap cm at metadata\.annotations\.a/ },
    { name: "a command line", tpl: WEB_TEMPLATE.replace("image: nginx:1.27\n", 'image: nginx:1.27\n          command: ["run", "--pw={{password}}"]\n'), where: /command\[1\]/ },
    { name: "a Secret's metadata", tpl: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels:\n    l: {{password}}\n", where: /Secret s at metadata\.labels\.l/ },
    { name: "through a partial's argument", tpl: CM("  {{> val v=password}}\n"), where: /ConfigMap cm at data\.v/, partial: true },
  ];
  for (const c of secretPlaces) {
    it(`a secret parameter in ${c.name} is a compile error naming the template, line and parameter, never the value`, () => {
      const templates: Record<string, string> = { "a.yaml.hbs": c.tpl };
      if (c.partial) templates["_val.hbs"] = "v: {{v}}\n";
      const problems = problemsOf(() => renderInMemory({ templates, params: { name: "web", password: "SENTINEL-pw" } }));
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0], /^tpl\/(a\.yaml|_val)\.hbs:\d+:\d+: secret parameter "password" lands in /);
      assert.match(problems[0], c.where);
      assert.doesNotMatch(problems[0], /SENTINEL/);
    });
  }

  it("a secret through uri_component is still a secret: refused in a ConfigMap, kept in a Secret", () => {
    const problems = problemsOf(() => renderInMemory({ templates: { "a.yaml.hbs": CM("  u: x{{uri_component password}}\n") }, params: { name: "web", password: "SENTINEL-pw" } }));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /secret parameter "password" lands in ConfigMap cm at data\.u/);
    assert.doesNotMatch(problems[0], /SENTINEL/);
    const out = objects({ "a.yaml.hbs": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  u: amqp://u:{{uri_component password}}@h/\n" }, { name: "u", password: "p@ss word" });
    assert.equal(secretText(out["Secret/s"]).u, "amqp://u:p%40ss%20word@h/");
  });

  it("a secret may land in a Secret's stringData or data, alone or inside a text", () => {
    const out = objects({ "a.yaml.hbs": 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  pw: {{password}}\n  userpw: "{{name}}:{{password}}"\n' }, { name: "u", password: "p: #w" });
    assert.deepEqual(secretText(out["Secret/s"]), { pw: "p: #w", userpw: "u:p: #w" });
  });
});

describe("render: problems", () => {
  it("reports each template's problems together, in the set's order, whatever stage found them", () => {
    const broken = { "a.yaml.hbs": "a: [unclosed\n", "b.yaml.hbs": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: b\nspec:\n  x: {{obj.nothing}}\n", "c.yaml.hbs": "c: [unclosed\n" };
    const problems = problemsOf(() => renderInMemory({ templates: broken }));
    assert.deepEqual(problems.map((p) => p.split(":")[0]), ["tpl/a.yaml.hbs", "tpl/b.yaml.hbs", "tpl/c.yaml.hbs"], problems.join("\n"));
  });
});
