import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeParamLayers, parseParamsFile } from "../src/stages/load-params";
import { problemsOf } from "./helpers";

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
    { name: "incomplete stack", file: "s.json", text: JSON.stringify({ stack_name: "mystack", stack_status: "CREATE_IN_PROGRESS", outputs: [] }), error: /^s\.json: \/stack_status: stack mystack is CREATE_IN_PROGRESS; try again when it is complete$/ },
    { name: "failed stack", file: "s.json", text: JSON.stringify({ stack: { stack_name: "st", stack_status: "UPDATE_FAILED", outputs: [] } }), error: /stack st is UPDATE_FAILED; try again when it is complete/ },
    { name: "deleted stack", file: "s.json", text: JSON.stringify({ stack_name: "st", stack_status: "DELETE_COMPLETE", outputs: [] }), error: /DELETE_COMPLETE/ },
    {
      name: "output with output_error",
      file: "s.json",
      text: JSON.stringify({ stack_status: "CREATE_COMPLETE", outputs: [{ output_key: "ok", output_value: 1 }, { output_key: "nova_db_uri", output_value: null, output_error: "Resource nova_db not found" }] }),
      error: /^s\.json: \/outputs\/1: stack output "nova_db_uri" has an error: Resource nova_db not found$/,
    },
    {
      name: "output show --all with output_error",
      file: "a.json",
      text: JSON.stringify({ bad: JSON.stringify({ output_key: "bad", output_error: "boom" }) }),
      error: /^a\.json: \/bad: stack output "bad" has an error: boom$/,
    },
    { name: "malformed JSON, with line and column", file: "p.json", text: '{\n  "a": 1,\n  "b": }\n', error: /^p\.json:3:8: invalid JSON: / },
    { name: "truncated JSON", file: "p.json", text: '{"a": 1', error: /^p\.json:1:\d+: invalid JSON/ },
    { name: "malformed YAML, with line and column", file: "p.yaml", text: "a: 1\nb: [1, 2\nc: 3\n", error: /^p\.yaml:\d+:\d+: invalid YAML: / },
    { name: "empty file", file: "p.json", text: "  \n", error: /^p\.json: is empty; expected an object of parameter names and values$/ },
    { name: "a list, not an object", file: "p.json", text: "[1, 2]", error: /^p\.json: expected an object of parameter names and values, got a list$/ },
    { name: "a scalar, not an object", file: "p.yaml", text: "just text\n", error: /got a string$/ },
    { name: "null document", file: "p.yaml", text: "~\n", error: /got nothing \(null\)$/ },
    { name: "nested 10,000 levels deep", file: "deep.json", text: "[".repeat(10000) + "]".repeat(10000), error: /^deep\.json: is nested more than 64 levels deep/ },
    { name: "nested 10,000 levels deep in an object", file: "deep.json", text: '{"a":'.repeat(10000) + "1" + "}".repeat(10000), error: /nested more than 64 levels/ },
    { name: "50 MB", file: "big.json", text: `{"a": "${"x".repeat(50 * 1000 * 1000)}"}`, error: /^big\.json: is 50\.0 MB; a parameters file may be at most 8 MiB$/ },
    { name: "duplicate YAML key", file: "p.yaml", text: "a: 1\na: 2\n", error: /^p\.yaml:2:\d+: invalid YAML: duplicated mapping key/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(() => load(c.file, c.text));
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0], c.error);
    });
  }

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
