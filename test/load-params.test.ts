import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { mergeParamLayers, parseParamsFile } from "../src/stages/load-params";
import { runPipeline } from "../src/pipeline";
import { problemsOf, templateFiles, TEST_SCHEMA } from "./helpers";
import type { ParamSchema } from "../src/types";

const load = (path: string, text: string) => parseParamsFile({ path, text }).values;

describe("load-params: every shape an operator has on disk", () => {
  const expected = { keystone_db_uri: "mysql://k:p@db/k", keystone_replicas: 3 };
  const stackOutputs = [
    { output_key: "keystone_db_uri", output_value: "mysql://k:p@db/k", description: "db" },
    { output_key: "keystone_replicas", output_value: 3, description: "n" },
  ];
  const cases: { name: string; file: string; text: string }[] = [
    { name: "plain JSON object", file: "p.json", text: JSON.stringify(expected) },
    { name: "plain YAML object", file: "p.yaml", text: "keystone_db_uri: mysql://k:p@db/k\nkeystone_replicas: 3\n" },
    { name: "JSON recognised by content, whatever the extension", file: "p.txt", text: JSON.stringify(expected) },
    { name: "YAML recognised by content in a .json file", file: "p.json", text: "keystone_db_uri: mysql://k:p@db/k\nkeystone_replicas: 3\n" },
    {
      name: "openstack stack show -f json",
      file: "s.json",
      text: JSON.stringify({ stack_name: "mystack", stack_status: "CREATE_COMPLETE", outputs: stackOutputs, parameters: { x: "y" } }),
    },
    {
      name: "openstack stack show -f yaml",
      file: "s.yaml",
      text: [
        "stack_name: mystack",
        "stack_status: UPDATE_COMPLETE",
        "outputs:",
        "- description: db",
        "  output_key: keystone_db_uri",
        "  output_value: mysql://k:p@db/k",
        "- description: n",
        "  output_key: keystone_replicas",
        "  output_value: 3",
        "",
      ].join("\n"),
    },
    { name: "Heat API body", file: "api.json", text: JSON.stringify({ stack: { stack_name: "mystack", stack_status: "CREATE_COMPLETE", outputs: stackOutputs } }) },
    {
      name: "openstack stack output show --all -f json",
      file: "all.json",
      text: JSON.stringify(Object.fromEntries(stackOutputs.map((o) => [o.output_key, JSON.stringify(o)]))),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(load(c.file, c.text), expected));
  }
});

describe("load-params: refusals name the file and the place", () => {
  const cases: { name: string; file: string; text: string; error: RegExp }[] = [
    { name: "incomplete stack", file: "s.json", text: JSON.stringify({ stack_name: "mystack", stack_status: "CREATE_IN_PROGRESS", outputs: [] }, null, 2), error: /^s\.json:3:19: \/stack_status: stack mystack is CREATE_IN_PROGRESS; try again when it is complete$/ },
    { name: "failed stack", file: "s.json", text: JSON.stringify({ stack: { stack_name: "st", stack_status: "UPDATE_FAILED", outputs: [] } }), error: /stack st is UPDATE_FAILED; try again when it is complete/ },
    { name: "deleted stack", file: "s.json", text: JSON.stringify({ stack_name: "st", stack_status: "DELETE_COMPLETE", outputs: [] }), error: /DELETE_COMPLETE/ },
    {
      name: "output with output_error",
      file: "s.json",
      text: JSON.stringify({ stack_status: "CREATE_COMPLETE", outputs: [{ output_key: "ok", output_value: 1 }, { output_key: "nova_db_uri", output_value: null, output_error: "Resource nova_db not found" }] }, null, 2),
      error: /^s\.json:8:5: \/outputs\/1: stack output "nova_db_uri" has an error: Resource nova_db not found$/,
    },
    {
      name: "output show --all with output_error",
      file: "a.json",
      text: JSON.stringify({ bad: JSON.stringify({ output_key: "bad", output_error: "boom" }) }, null, 2),
      error: /^a\.json:2:10: \/bad: stack output "bad" has an error: boom$/,
    },
    { name: "malformed JSON, with line and column", file: "p.json", text: '{\n  "a": 1,\n  "b": }\n', error: /^p\.json:3:8: invalid JSON: / },
    { name: "truncated JSON", file: "p.json", text: '{"a": 1', error: /^p\.json:1:\d+: invalid JSON/ },
    { name: "malformed YAML, with line and column", file: "p.yaml", text: "a: 1\nb: [1, 2\nc: 3\n", error: /^p\.yaml:\d+:\d+: invalid YAML: / },
    { name: "empty file", file: "p.json", text: "  \n", error: /^p\.json: is empty; expected an object of parameter names and values$/ },
    { name: "a list, not an object", file: "p.json", text: "[1, 2]", error: /^p\.json: expected an object of parameter names and values, got a list$/ },
    { name: "a scalar, not an object", file: "p.yaml", text: "just text\n", error: /got a string$/ },
    { name: "null document", file: "p.yaml", text: "~\n", error: /got nothing \(null\)$/ },
    { name: "nested 10,000 levels deep", file: "deep.json", text: "[".repeat(10000) + "]".repeat(10000), error: /^deep\.json:1:65: is nested more than 64 levels deep/ },
    { name: "nested 10,000 levels deep in an object", file: "deep.json", text: '{"a":'.repeat(10000) + "1" + "}".repeat(10000), error: /nested more than 64 levels/ },
    { name: "50 MB", file: "big.json", text: `{"a": "${"x".repeat(50 * 1000 * 1000)}"}`, error: /^big\.json: is larger than 8 MiB, the most a parameters file may hold$/ },
    { name: "duplicate YAML key", file: "p.yaml", text: "a: 1\na: 2\n", error: /^p\.yaml:2:1: this key is given twice in one mapping: first at line 1, column 1, then here/ },
    // JSON.parse and js-yaml would round these silently.
    { name: "an integer beyond 2^53 in JSON", file: "p.json", text: '{\n  "a": 1,\n  "id": 12345678901234567890\n}', error: /^p\.json:3:9: \/id: an integer that cannot be kept exactly: .*\(2\^53 − 1\)\. Quote it if it is text \(an ID\)$/ },
    { name: "an integer beyond 2^53 in YAML, deep in a list", file: "p.yaml", text: "a: 1\nl:\n  - 1\n  - x: 0x7fffffffffffffff\n", error: /^p\.yaml:4:8: \/l\/1\/x: an integer that cannot be kept exactly/ },
    {
      name: "an integer beyond 2^53 in a Heat output",
      file: "s.json",
      text: '{"stack_status": "CREATE_COMPLETE", "outputs": [\n  {"output_key": "id", "output_value": 9007199254740993}\n]}',
      error: /^s\.json:2:40: \/outputs\/0\/output_value: an integer that cannot be kept exactly/,
    },
    {
      name: "an integer beyond 2^53 in output show --all's JSON",
      file: "a.json",
      text: JSON.stringify({ id: '{"output_key": "id", "output_value": 9007199254740993}' }, null, 2),
      error: /^a\.json:2:9: \/id: in this output's JSON, an integer that cannot be kept exactly/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(() => load(c.file, c.text));
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0], c.error);
    });
  }

  it("integers a number holds exactly are kept, even beyond 2^53, and so are large floats", () => {
    assert.deepEqual(load("p.json", '{"a": 9007199254740992, "b": -9007199254740994, "c": 1e20, "d": 1.5e300}'), { a: 2 ** 53, b: -(2 ** 53) - 2, c: 1e20, d: 1.5e300 });
  });

  it("property: an integer in a JSON or YAML file is kept exactly or refused at its place, never changed", () => {
    const integer = fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }));
    fc.assert(
      fc.property(integer, fc.boolean(), (v, json) => {
        const [file, text] = json ? ["p.json", `{\n  "a": 1,\n  "x": ${v}\n}`] : ["p.yaml", `a: 1\nx: ${v}\n`];
        let x: unknown;
        const problems = (() => {
          try {
            x = load(file, text).x;
            return [];
          } catch {
            return problemsOf(() => load(file, text));
          }
        })();
        if (problems.length === 0) return assert.equal(String(x), v.toString());
        assert.match(problems[0], new RegExp(`^${file.replace(".", "\\.")}:${json ? "3:8" : "2:4"}: /x: an integer that cannot be kept exactly`));
        // It may be a secret's: never in the message.
        assert.ok(!problems[0].includes((v < 0n ? -v : v).toString()), problems[0]);
        assert.ok(v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER));
      }),
      { numRuns: 500 },
    );
  });

  it("a JSON error never quotes the text around it (it may be a secret)", () => {
    const [problem] = problemsOf(() => load("p.json", '{"password": "hunter2-SENTINEL" x}'));
    assert.doesNotMatch(problem, /SENTINEL/);
  });
});

describe("load-params: merging", () => {
  it("later files override earlier ones key by key and remember who supplied each", () => {
    const merged = mergeParamLayers([
      { origin: "a.json", values: { x: 1, y: 1 } },
      { origin: "b.yaml", values: { y: 2, z: 2 } },
      { origin: "--set", values: { z: 3 } },
    ]);
    assert.deepEqual(merged.values, { x: 1, y: 2, z: 3 });
    assert.deepEqual(merged.origin, { x: "a.json", y: "b.yaml", z: "--set" });
  });
});

describe("load-params: a parameter's problem names its line in the file that supplied it", () => {
  /** The whole pipeline over parameters files (path → text), in memory, with one ConfigMap template. */
  const pipelineOf = (files: Record<string, string>, schema: ParamSchema = TEST_SCHEMA) =>
    runPipeline({
      paramsFiles: Object.entries(files).map(([p, text]) => ({ path: p, text })),
      sets: [],
      schema,
      schemaFile: "schema.json",
      templates: templateFiles({ "a.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{name}}\n" }),
      outDir: "out",
      secretsDir: "secrets",
      inlineSecrets: false,
    });
  const schemaRun = (files: Record<string, string>) => problemsOf(() => pipelineOf(files));
  const cases: { name: string; files: Record<string, string>; error: string }[] = [
    { name: "plain JSON", files: { "p.json": '{\n  "name": "n",\n  "password": "p",\n  "replicas": "three"\n}\n' }, error: "p.json:4:15: /replicas: must be an integer" },
    { name: "plain YAML", files: { "p.yaml": "name: n\npassword: p\nreplicas: three\n" }, error: "p.yaml:3:11: /replicas: must be an integer" },
    { name: "a mapping where a boolean belongs: at its name", files: { "p.yaml": "name: n\npassword: p\nflag:\n  deep: 1\n" }, error: "p.yaml:3:1: /flag: must be of type boolean" },
    {
      name: "a Heat stack's outputs: the output_value",
      files: { "s.yaml": "stack_status: CREATE_COMPLETE\noutputs:\n  - output_key: name\n    output_value: n\n  - output_key: password\n    output_value: p\n  - output_key: replicas\n    output_value: three\n" },
      error: "s.yaml:8:19: /replicas: must be an integer",
    },
    { name: "a mistyped name in JSON: did you mean, at its value", files: { "p.json": '{\n  "name": "n",\n  "password": "p",\n  "replica": 9\n}\n' }, error: "p.json:4:14: /replica: is not a declared parameter (did you mean replicas?)" },
    { name: "a mistyped name in YAML", files: { "p.yaml": "name: n\npassword: p\nreplica: 9\n" }, error: "p.yaml:3:10: /replica: is not a declared parameter (did you mean replicas?)" },
    {
      name: "a mistyped output of a Heat stack: its output_value",
      files: { "s.yaml": "stack_status: CREATE_COMPLETE\noutputs:\n  - output_key: name\n    output_value: n\n  - output_key: pasword\n    output_value: p\n" },
      error: "s.yaml:6:19: /pasword: is not a declared parameter (did you mean password?)",
    },
    { name: "the later of two files, which supplied the value", files: { "a.yaml": "name: n\npassword: p\nreplicas: 2\n", "b.yaml": "# prod\nreplicas: many\n" }, error: "b.yaml:2:11: /replicas: must be an integer" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = schemaRun(c.files);
      assert.ok(problems.includes(c.error), `expected ${c.error} among:\n${problems.join("\n")}`);
    });
  }

  describe("a parameter derived from swift_siteurl: one mistake, one message, at swift_siteurl", () => {
    const schema = {
      ...TEST_SCHEMA,
      properties: { ...TEST_SCHEMA.properties, swift_siteurl: { type: "string" }, swift_container: { type: "string" }, swift_tenant_name: { type: "string" } },
      required: ["name", "password", "swift_siteurl", "swift_container", "swift_tenant_name"],
    };
    const pipeline = (text: string) => pipelineOf({ "p.yaml": text }, schema);
    const run = (text: string) => problemsOf(() => pipeline(text));
    const cases = [
      { name: "a URL without /TENANT/CONTAINER", text: "name: n\npassword: p\nswift_siteurl: https://example.com\n", error: "p.yaml:3:16: /swift_siteurl: is not a URL whose path ends in /TENANT/CONTAINER, and swift_container and swift_tenant_name are derived from it; correct it, or set them" },
      { name: "missing", text: "name: n\npassword: p\n", error: "p.yaml: /swift_siteurl: required parameter is missing (swift_container and swift_tenant_name are derived from it)" },
      { name: "its name mistyped", text: "name: n\npassword: p\nswift_siteur: https://example.com/v1/t/c\n", error: "p.yaml:3:15: /swift_siteur: is not a declared parameter (did you mean swift_siteurl?)" },
      { name: "not a string", text: "name: n\npassword: p\nswift_siteurl: 3\n", error: "p.yaml:3:16: /swift_siteurl: must be of type string, and was read as a number: put it in quotes to keep it as written (unquoted, 2014.10 reads as 2014.1) (swift_container and swift_tenant_name are derived from it)" },
    ];
    for (const c of cases) it(c.name, () => assert.deepEqual(run(c.text), [c.error]));
    it("set explicitly, the derived ones need nothing from it", () => {
      assert.equal(pipeline("name: n\npassword: p\nswift_siteurl: https://example.com\nswift_container: c\nswift_tenant_name: t\n").params.values.swift_container, "c");
    });
  });

  it("a name near no declared one (a Heat stack's own output) is ignored, and listed for --verbose", () => {
    const result = pipelineOf({ "s.yaml": "stack_status: CREATE_COMPLETE\noutputs:\n  - output_key: name\n    output_value: n\n  - output_key: password\n    output_value: p\n  - output_key: floating_network_id\n    output_value: x\n" });
    assert.deepEqual(result.params.ignored, [{ name: "floating_network_id", file: "s.yaml" }]);
  });
});
