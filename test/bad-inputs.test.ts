// Attacks on the parameters' input: malformed files and `--set` arguments that hide a secret, huge
// or endless inputs, inherited JavaScript names, unsafe template names. Each must end, within a
// time bound set here, in a clear message at its place that never quotes the text.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { main } from "../src/cli";
import { discoverTemplates } from "../src/stages/discover-templates";
import { INHERITED_NAMES, MAX_ALIAS_NODES, parseParamsFile } from "../src/stages/load-params";
import { parseSetFlags } from "../src/stages/validate-params";
import type { ParamSchema } from "../src/types";
import { CLI, makeChart, problemsOf, SECRET_TEMPLATE, tmpDir, TEST_SCHEMA, WEB_TEMPLATE } from "./helpers";

/** Looks like a secret, and must never be printed by a message about the text that holds it. */
const MARKER = "S3cret-MARKER-7f1c";
/** Per case, generous for a loaded shared machine (7 s was seen): a hang or an exponential blow-up takes far longer. */
const TIME_BOUND_MS = 20_000;

function timed<T>(run: () => T): T {
  const started = Date.now();
  const result = run();
  const ms = Date.now() - started;
  assert.ok(ms < TIME_BOUND_MS, `took ${ms} ms`);
  return result;
}

/** The problems of parsing one parameters file, checked for what no message may hold. */
function refusal(file: string, text: string): string[] {
  const problems = timed(() => problemsOf(() => parseParamsFile({ path: file, text })));
  for (const p of problems) {
    assert.ok(!p.includes(MARKER), `quotes the text: ${p}`);
    assert.ok(!p.startsWith(`${file}: `) || /is empty|expected an object|larger than/.test(p), `no place: ${p}`);
  }
  return problems;
}

describe("bad input: a parameters file's mistakes are placed and never quoted", () => {
  const M = MARKER;
  const cases: { name: string; file?: string; text: string; error: RegExp }[] = [
    { name: "an alias with no anchor (its name is the secret)", text: `rabbitmq_password: *${M}\n`, error: /^p\.yaml:1:20: invalid YAML: an alias \(\*\) that no anchor \(&\) before it defines$/ },
    { name: "an alias to an anchor defined after it", text: `a: *x\nb: &x ${M}\n`, error: /^p\.yaml:1:4: invalid YAML: an alias/ },
    { name: "an alias inside the value it names", text: `a: &x [1, *x, ${M}]\n`, error: /^p\.yaml:1:11: invalid YAML: an alias \(\*\) inside the value its anchor \(&\) names: a loop$/ },
    { name: "an unclosed double quote", text: `password: "${M}\nname: x\n`, error: /^p\.yaml:\d+:\d+: invalid YAML: a quote or bracket that is not closed$/ },
    { name: "an unclosed single quote", text: `password: '${M}\n`, error: /^p\.yaml:\d+:\d+: invalid YAML: / },
    { name: "an unclosed bracket", text: `password: [${M}\n`, error: /^p\.yaml:\d+:\d+: invalid YAML: / },
    { name: "a second ': ' on a line", text: `password: ${M}: x\n`, error: /^p\.yaml:1:11: invalid YAML: a second ': ' on one line/ },
    { name: "a tab as indentation", text: `name: n\n\tpassword: ${M}\n`, error: /^p\.yaml:2:1: invalid YAML: a tab as indentation/ },
    { name: "a tag that names the secret", text: `password: !${M} x\n`, error: /^p\.yaml:1:11: invalid YAML: a tag \(!\) that parameters cannot use/ },
    { name: "a binary value", text: `password: !!binary ${Buffer.from(M).toString("base64")}\n`, error: /^p\.yaml:1:\d+: invalid YAML: a tag \(!\) that parameters cannot use/ },
    { name: "an unknown escape", text: `password: "${M}\\q"\n`, error: /^p\.yaml:1:\d+: invalid YAML: a double-quoted string holds an escape/ },
    { name: "an unknown directive", text: `%${M} x\n---\na: 1\n`, error: /^p\.yaml:1:1: invalid YAML: / },
    { name: "a second document", text: `name: n\n---\npassword: ${M}\n`, error: /^p\.yaml:2:1: invalid YAML: a second document \(after ---\); a parameters file holds one$/ },
    { name: "a second document after an end marker", text: `name: n\n...\npassword: ${M}\n`, error: /^p\.yaml:3:1: invalid YAML: / },
    { name: "a list as a key", text: `? [${M}]\n: x\n`, error: /^p\.yaml:1:3: invalid YAML: a key must be a name/ },
    { name: "a mapping as a key", text: `? {${M}: 1}\n: x\n`, error: /^p\.yaml:1:3: invalid YAML: a key must be a name/ },
    { name: "an alias as a key", text: `a: &k ${M}\n*k : x\n`, error: /^p\.yaml:2:1: invalid YAML: a key must be a name/ },
    { name: "an empty key", text: `: ${M}\n`, error: /^p\.yaml:1:1: invalid YAML: a key must be a name/ },
    { name: "a YAML key given twice, at both places", text: `password: ${M}\nname: n\npassword: x\n`, error: /^p\.yaml:3:1: this key is given twice in one mapping: first at line 1, column 1, then here; remove one$/ },
    { name: "a YAML key given twice as a number and a string", text: `1: ${M}\n"1": x\n`, error: /^p\.yaml:2:1: this key is given twice/ },
    { name: "a JSON key given twice, at both places", file: "p.json", text: `{\n  "password": "${M}",\n  "password": "x"\n}`, error: /^p\.json:3:3: this key is given twice in one object: first at line 2, column 3, then here; remove one$/ },
    { name: "a JSON key given twice, deep", file: "p.json", text: `{"obj": {"a": {"b": 1, "b": "${M}"}}}`, error: /^p\.json:1:24: this key is given twice in one object: first at line 1, column 16/ },
    { name: "a JSON key given twice in a Heat output's JSON", file: "a.json", text: JSON.stringify({ password: JSON.stringify({ output_key: "password", output_value: M }).replace("{", '{"output_value": 1, ') }), error: /^a\.json:1:\d+: \/password: in this output's JSON, a key is given twice/ },
    { name: "malformed JSON", file: "p.json", text: `{"password": ${M}}`, error: /^p\.json:1:14: invalid JSON: / },
    { name: "JSON cut short inside the secret", file: "p.json", text: `{"password": "${M}`, error: /^p\.json:1:\d+: invalid JSON: / },
    { name: "JSON with text after it", file: "p.json", text: `{"name": "n"} ${M}`, error: /^p\.json:1:\d+: invalid JSON: / },
    { name: "nested 10,000 lists on one line, \"- \" (the YAML parser runs out of memory)", text: `${"- ".repeat(10000)}${M}\n`, error: /^p\.yaml:1:\d+: is nested more than 64 levels deep/ },
    { name: "nested 10,000 flow lists behind a quote in a plain value", text: `a: x"\nb: ${"[".repeat(10000)}${"]".repeat(10000)} "\n`, error: /^p\.yaml:\d+:\d+: (invalid YAML: nested|is nested)/ },
    { name: "nested 2,000 mappings by indentation", text: `${Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}k:`).join("\n")} ${M}\n`, error: /^p\.yaml:\d+:\d+: is nested more than 64 levels deep/ },
    { name: "nested 100 levels by 2-space indentation (the walk after parsing counts them)", text: `${Array.from({ length: 100 }, (_, i) => `${"  ".repeat(i)}k:`).join("\n")} ${M}\n`, error: /^p\.yaml:65:\d+: is nested more than 64 levels deep$/ },
    { name: "nested 100 flow mappings in YAML", text: `a: ${"{a: ".repeat(100)}1${"}".repeat(100)}\n`, error: /^p\.yaml:1:\d+: is nested more than 64 levels deep/ },
    { name: "nested 1,000 levels in a Heat output's JSON", file: "a.json", text: JSON.stringify({ password: JSON.stringify({ output_key: "password", output_value: JSON.parse(`${"[".repeat(1000)}"${M}"${"]".repeat(1000)}`) }) }), error: /^a\.json:1:\d+: is nested more than 64 levels deep$/ },
    { name: "a list", text: `- ${M}\n`, error: /^p\.yaml: expected an object of parameter names and values, got a list$/ },
    { name: "a number", text: "5\n", error: /got a number$/ },
    { name: "null", file: "p.json", text: "null", error: /got nothing \(null\)$/ },
    { name: "a comment only", text: `# ${M}\n`, error: /got nothing \(null\)$/ },
    { name: "a byte order mark only", text: "\uFEFF", error: /^p\.yaml: is empty/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = refusal(c.file ?? "p.yaml", c.text);
      assert.ok(problems.some((p) => c.error.test(p)), problems.join("\n"));
      for (const p of problems) assert.doesNotMatch(p, /internal error|declared|\bat .+:\d+:\d+\)/);
    });
  }

  it("a 1 kB \"billion laughs\" is refused at the alias that goes over the budget, at once", () => {
    const levels = "abcdefghijklmnopqrstuvwxyz".slice(0, 20).split("");
    const text = `lol: &a [${"x,".repeat(9)}x]\n${levels.slice(1).map((l, i) => `${l}: &${l} [${`*${levels[i]},`.repeat(9)}*${levels[i]}]`).join("\n")}\n`;
    assert.ok(text.length < 1024, `${text.length} bytes`);
    const [problem] = refusal("laughs.yaml", text);
    // a: 10 values, b: 9 × 10 + ..., d: the first level whose aliases repeat more than the budget.
    assert.match(problem, new RegExp(`^laughs\\.yaml:4:\\d+: invalid YAML: aliases \\(\\*\\) here repeat more than ${MAX_ALIAS_NODES} values in all; write the values out$`));
  });

  it("aliases within the budget are expanded, and share their anchor's value", () => {
    const text = `res: &r {requests: {cpu: 100m, memory: 128Mi}}\n${Array.from({ length: 30 }, (_, i) => `s${i}: *r`).join("\n")}\n`;
    const { values } = parseParamsFile({ path: "p.yaml", text });
    assert.deepEqual(values.s29, { requests: { cpu: "100m", memory: "128Mi" } });
  });

  it("what YAML and JSON write plainly still loads: CRLF, a byte order mark, numbers as keys, a 5 MB line", () => {
    const load = (file: string, text: string) => timed(() => parseParamsFile({ path: file, text }).values);
    assert.deepEqual(load("p.yaml", "name: n\r\nreplicas: 3\r\n"), { name: "n", replicas: 3 });
    assert.deepEqual(load("p.json", '\uFEFF{"name": "n"}'), { name: "n" });
    assert.deepEqual(load("p.yaml", "\uFEFFname: n\n"), { name: "n" });
    assert.deepEqual(load("p.yaml", "1: a\n2.5: b\ntrue: c\n"), { 1: "a", "2.5": "b", true: "c" });
    assert.equal((load("p.yaml", `long: ${"x".repeat(5e6)}\n`).long as string).length, 5e6);
    assert.deepEqual(load("p.yaml", "a: 'it''s 😀'\nb: \"\\u2028\"\n"), { a: "it's 😀", b: "\u2028" });
    // Pretty-printed deep JSON: 30 levels, 8 spaces each, is indentation far past what YAML may have.
    let deep: unknown = 1;
    for (let i = 0; i < 30; i++) deep = { k: deep };
    assert.equal(JSON.stringify(load("p.json", JSON.stringify({ deep }, null, 8))).length, JSON.stringify({ deep }).length);
  });

  it("a mistake in a CRLF file is placed by its line", () => {
    const [problem] = refusal("p.yaml", `name: n\r\npassword: *${MARKER}\r\n`);
    assert.match(problem, /^p\.yaml:2:11: invalid YAML: an alias/);
  });
});

describe("bad input: names that JavaScript objects inherit", () => {
  const names = [...INHERITED_NAMES];
  it("covers the names the issue lists", () => {
    for (const n of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) assert.ok(INHERITED_NAMES.has(n), n);
  });
  const shapes: { name: string; file: string; text: (n: string) => string; place: RegExp }[] = [
    { name: "a JSON parameter", file: "p.json", text: (n) => `{\n  "name": "x",\n  "${n}": "${MARKER}"\n}`, place: /^p\.json:3:\d+: "/ },
    { name: "a YAML parameter", file: "p.yaml", text: (n) => `name: x\n${n}: ${MARKER}\n`, place: /^p\.yaml:2:\d+: "/ },
    { name: "a key deep in a value", file: "p.yaml", text: (n) => `obj:\n  inner:\n    ${n}: 1\n`, place: /^p\.yaml:3:\d+: "/ },
    { name: "a Heat output's key", file: "s.yaml", text: (n) => `stack_status: CREATE_COMPLETE\noutputs:\n- output_key: ${n}\n  output_value: ${MARKER}\n`, place: /^s\.yaml:3:\d+: \/outputs\/0\/output_key: "/ },
    { name: "an output show --all key", file: "a.json", text: (n) => JSON.stringify({ x: JSON.stringify({ output_key: n, output_value: MARKER }) }), place: /^a\.json:1:\d+: \/x: in this output's JSON, "/ },
  ];
  for (const shape of shapes) {
    it(`as ${shape.name}: refused at its place, never "declared", nothing polluted`, () => {
      for (const n of names) {
        const problems = refusal(shape.file, shape.text(n));
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.match(problems[0], shape.place);
        assert.ok(problems[0].includes(`"${n}" is a name that JavaScript objects inherit`), problems[0]);
        assert.doesNotMatch(problems[0], /declared|internal error/);
      }
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), names.sort());
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  it("as --set names: refused by argument number, never \"declared\"", () => {
    for (const n of names) {
      const problems = problemsOf(() => parseSetFlags([`name=x`, `${n}=${MARKER}`], TEST_SCHEMA));
      assert.deepEqual(problems, [`--set argument 2: "${n}" is a name that JavaScript objects inherit; it cannot be a parameter's name`]);
    }
  });
});

/** A schema with parameters declared by `$ref`, as params/schema.json declares each service's resources. */
const REF_SCHEMA: ParamSchema = {
  ...TEST_SCHEMA,
  properties: {
    ...TEST_SCHEMA.properties,
    res: { $ref: "#/$defs/resources", description: "resources" } as ParamSchema,
    via: { $ref: "#/$defs/alias" } as ParamSchema,
    ports: { $ref: "#/$defs/ports" } as ParamSchema,
    label: { $ref: "#/$defs/label" } as ParamSchema,
  },
  $defs: {
    resources: { type: "object", properties: { cpu: { type: "string" } } },
    alias: { $ref: "#/$defs/resources" },
    ports: { type: "array", items: { type: "integer" } },
    label: { type: "string" },
  },
} as ParamSchema;

describe("bad input: --set", () => {
  const M = MARKER;
  const refused: { name: string; set: string; error: RegExp }[] = [
    { name: "':' for '=' after a declared name", set: `password:${M}`, error: /^--set argument 1: expected name=value \(not shown: it may hold a secret\); it starts with password: write password=VALUE$/ },
    { name: "a space for '='", set: `password ${M}`, error: /^--set argument 1: expected name=value .*; it starts with password: / },
    { name: "a value alone", set: M, error: /^--set argument 1: expected name=value \(not shown: it may hold a secret\)$/ },
    { name: "no name", set: `=${M}`, error: /^--set argument 1: expected name=value, and there is no name before '='$/ },
    { name: "an undeclared name that is the secret", set: `${M}=x`, error: /^--set argument 1: the name is not a declared parameter/ },
    { name: "a name with the value run into it", set: `password${M}=x`, error: /^--set argument 1: the name is not a declared parameter/ },
    { name: "a mapping parameter given malformed JSON (and not flow YAML either)", set: `obj={"cpu": ${M}, ]`, error: /^--set argument 1 \(obj\): the value at line 1, column \d+: invalid JSON: / },
    { name: "a mapping parameter given malformed YAML", set: `obj=cpu: "${M}`, error: /^--set argument 1 \(obj\): the value at line \d+, column \d+: invalid YAML: a quote or bracket that is not closed$/ },
    { name: "a mapping parameter given an alias", set: `obj=cpu: *${M}`, error: /^--set argument 1 \(obj\): the value at line 1, column 6: invalid YAML: an alias/ },
    { name: "a mapping parameter nested 10,000 deep", set: `obj=${"- ".repeat(10000)}${M}`, error: /^--set argument 1 \(obj\): the value at line 1, column \d+ is nested more than 64 levels deep/ },
    { name: "a mapping parameter given a billion laughs", set: `obj=${["a: &a [x,x,x,x,x,x,x,x,x,x]", ..."bcdefgh".split("").map((l, i) => `${l}: &${l} [${`*${"abcdefg"[i]},`.repeat(9)}*${"abcdefg"[i]}]`)].join("\n")}`, error: /^--set argument 1 \(obj\): the value at line 4, column \d+: invalid YAML: aliases/ },
    { name: "a mapping parameter given an inherited key", set: `obj={"__proto__": {"polluted": "${M}"}}`, error: /^--set argument 1 \(obj\): the value: "__proto__" is a name that JavaScript objects inherit; it cannot be a key$/ },
    { name: "a mapping parameter given a key twice", set: `obj={"cpu": "${M}", "cpu": "1"}`, error: /^--set argument 1 \(obj\): the value at line 1, column \d+: this key is given twice/ },
    { name: "a mapping parameter given nothing", set: "obj=", error: /^--set argument 1 \(obj\): the value is empty; expected a mapping, in JSON or YAML$/ },
    { name: "an integer parameter given text", set: `replicas=${M}`, error: /^--set argument 1 \(replicas\): expected a value of type integer$/ },
  ];
  for (const c of refused) {
    it(`${c.name}: refused by its number, without the text`, () => {
      const problems = timed(() => problemsOf(() => parseSetFlags([c.set], REF_SCHEMA)));
      assert.match(problems[0], c.error);
      for (const p of problems) assert.ok(!p.includes(M), p);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  const typed: { set: string; name: string; value: unknown }[] = [
    { set: 'res={"cpu": "1"}', name: "res", value: { cpu: "1" } },
    { set: "res=cpu: 500m", name: "res", value: { cpu: "500m" } },
    { set: "res=cpu: 1\nmem: [a, b]", name: "res", value: { cpu: 1, mem: ["a", "b"] } },
    { set: "res={cpu: 1, mem: [a, b]}", name: "res", value: { cpu: 1, mem: ["a", "b"] } },
    { set: 'via={"cpu": "2"}', name: "via", value: { cpu: "2" } },
    { set: "ports=[80, 443]", name: "ports", value: [80, 443] },
    { set: "label={not: parsed}", name: "label", value: "{not: parsed}" },
  ];
  for (const c of typed) {
    it(`a parameter declared by $ref is typed by what it refers to: ${c.set}`, () => {
      assert.deepEqual(parseSetFlags([c.set], REF_SCHEMA).values[c.name], c.value);
    });
  }

  it("every problem of every argument at once, each by its number", () => {
    const problems = problemsOf(() => parseSetFlags(["name=ok", `password:${M}`, "replicas=3", `${M}`, "constructor=1"], REF_SCHEMA));
    assert.deepEqual(problems.map((p) => p.split(":")[0]), ["--set argument 2", "--set argument 4", "--set argument 5"]);
  });
});

describe("bad input: template names that cannot be written in a # Source: comment", () => {
  const unsafe = ["a\nkind: Secret\n.yaml.hbs", "a\r.yaml.hbs", "a\u2028b.yaml.hbs", "a\u2029b.yaml.hbs", "a\u0085b.yaml.hbs", "a\tb.yaml.hbs", "a\u001bb.yaml.hbs", "a\u202eb.yaml.hbs", "a\u200bb.yaml.hbs", "a\ufeffb.yaml.hbs", "sub\u2028folder/a.yaml.hbs", "ok/deeper\nfolder/a.yaml.hbs"];
  for (const name of unsafe) {
    it(JSON.stringify(name), () => {
      const dir = tmpDir();
      fs.mkdirSync(path.join(dir, path.dirname(name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
      fs.writeFileSync(path.join(dir, "ok.yaml.hbs"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n");
      const problems = problemsOf(() => discoverTemplates(dir, "kubernetes-in"));
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0], /^kubernetes-in\/[^\n\r\u0085\u2028\u2029]*\\u\{[0-9A-F]{4}\}[^\n]*: a template's name may not hold a line break/);
    });
  }

  it("bytes that are not UTF-8 in a name", () => {
    const dir = tmpDir();
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/a`), Buffer.from([0xff, 0xfe]), Buffer.from(".yaml.hbs")]), "a: 1\n");
    assert.match(problemsOf(() => discoverTemplates(dir, "t"))[0], /^t\/a\\u\{FFFD\}\\u\{FFFD\}\.yaml\.hbs: a template's name may not hold/);
  });

  it("names in other scripts, with spaces and punctuation, are fine", () => {
    const dir = tmpDir();
    for (const name of ["café.yaml.hbs", "日本 語.yaml.hbs", "a'b\"c#d.yaml.hbs"]) fs.writeFileSync(path.join(dir, name), "a: 1\n");
    assert.equal(discoverTemplates(dir, "t").length, 3);
  });
});

/** Runs the CLI in this process (main is synchronous), capturing what it prints. */
function runMain(args: string[]): { code: number; output: string } {
  let output = "";
  const code = timed(() => main(args, (_fd, text) => (output += text)));
  return { code, output };
}

function assertCleanRefusal(r: { code: number; output: string }, codes: number[] = [1, 2]): void {
  assert.ok(codes.includes(r.code), `exit ${r.code}: ${r.output}`);
  assert.ok(!r.output.includes(MARKER), `printed the marker: ${r.output}`);
  assert.doesNotMatch(r.output, /internal error/);
  assert.doesNotMatch(r.output, /\n\s+at .+:\d+:\d+\)?\n/, "a stack trace");
  assert.match(r.output, /^error: /m);
}

describe("bad input: reading the parameters", () => {
  const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: "p4ssw0rd-good" });
  const base = ["--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json"), "--out", path.join(cwd, "out"), "--check"];
  const good = path.join(cwd, "params.json");

  const invalidUtf8: { name: string; bytes: number[]; at: string }[] = [
    { name: "a lone continuation byte", bytes: [0x80], at: "2:11" },
    { name: "a two-byte sequence cut short", bytes: [0xc3], at: "2:11" },
    { name: "an overlong encoding of '/'", bytes: [0xc0, 0xaf], at: "2:11" },
    { name: "an encoded surrogate", bytes: [0xed, 0xa0, 0x80], at: "2:11" },
    { name: "0xFF", bytes: [0xff], at: "2:11" },
  ];
  for (const c of invalidUtf8) {
    it(`invalid UTF-8, ${c.name}, is refused at its line and column, after a real U+FFFD`, () => {
      const file = path.join(cwd, "bad-utf8.yaml");
      fs.writeFileSync(file, Buffer.concat([Buffer.from(`name: "\uFFFD é"\npassword: `), Buffer.from(c.bytes), Buffer.from(`${MARKER}\n`)]));
      const r = runMain(["--params", good, "--params", file, ...base]);
      assertCleanRefusal(r, [1]);
      assert.match(r.output, new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:${c.at}: is not valid UTF-8 here; save the file as UTF-8$`, "m"));
    });
  }

  it("a U+FFFD written in the file is a character like any other", () => {
    const file = path.join(cwd, "fffd.json");
    fs.writeFileSync(file, JSON.stringify({ name: "web\uFFFD" }));
    const r = runMain(["--params", good, "--params", file, ...base]);
    assert.doesNotMatch(r.output, /UTF-8|internal error/);
  });

  it("--params /dev/zero ends with a clear error", () => {
    const r = runMain(["--params", good, "--params", "/dev/zero", ...base]);
    assertCleanRefusal(r, [1]);
    assert.match(r.output, /^error: \/dev\/zero: is larger than 8 MiB, the most a parameters file may hold$/m);
  });

  it("a FIFO fed more than the limit is refused, and never opened again (a second open would wait forever)", async () => {
    const fifo = path.join(tmpDir(), "params.fifo");
    const made = spawnSync("mkfifo", [fifo]);
    if (made.status !== 0) return; // no mkfifo: nothing to test here
    // Writes 9 MiB, then closes: after that, opening the FIFO again would block until a new writer comes.
    const writer = spawn("sh", ["-c", `head -c 9437184 /dev/zero > '${fifo}'`], { stdio: "ignore" });
    const exited = new Promise((resolve) => writer.once("exit", resolve));
    const r = spawnSync(process.execPath, [CLI, "--params", good, "--params", fifo, ...base], { encoding: "utf8", timeout: TIME_BOUND_MS * 2, env: { ...process.env, NO_COLOR: "1" } });
    await exited;
    assert.equal(r.signal, null, "killed by the time bound: it waited on the FIFO");
    assertCleanRefusal({ code: r.status ?? -1, output: r.stdout + r.stderr }, [1]);
    assert.match(r.stderr, /params\.fifo: is larger than 8 MiB/);
  });

  it("standard input fed more than the limit is refused", () => {
    const r = spawnSync(process.execPath, [CLI, "--params", "-", ...base], { input: Buffer.alloc(9 * 1024 * 1024, "a"), encoding: "utf8", timeout: TIME_BOUND_MS * 2, env: { ...process.env, NO_COLOR: "1" } });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: <stdin>: is larger than 8 MiB/m);
  });

  it("a folder as parameters", () => {
    const r = runMain(["--params", good, "--params", cwd, ...base]);
    assertCleanRefusal(r, [1]);
    assert.match(r.output, /is a folder; expected a parameters file/);
  });

  for (const args of [["--params"], ["--params", "--out", "x"], ["--params", ""], ["diff", "--params"]]) {
    it(`${args.join(" ")} with no file is a usage error`, () => {
      const r = runMain([...args, "--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json")]);
      assert.equal(r.code, 2, r.output);
      assert.match(r.output, /^error: --params needs a file name \(or - for standard input\)$/m);
    });
  }
});

describe("bad input: property — malformed parameters and --set arguments never leak, crash or hang", () => {
  const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: "p4ssw0rd-good" }, REF_SCHEMA);
  const base = ["--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json"), "--out", path.join(cwd, "out"), "--quiet"];
  const good = path.join(cwd, "params.json");
  const M = MARKER;

  const pieces = [
    "password: ", "name: ", "obj: ", "res:\n  ", M, `*${M}`, `&${M} `, "&a ", "*a", `!${M} `, "!!binary ", '"', "'", "[", "]", "{", "}", ",", "\n", "\r\n", "\t",
    "- ", "? ", ": ", "---\n", "...\n", "%YAML 1.2\n", "\uFEFF", "\u2028", "#", "\\", "<<: *a\n", "constructor", "__proto__", "toString", "valueOf: ", "1: ", "~", "null",
    `{"password": "${M}"`, `"${M}": `, ', "password": 1', "}", `[${M}`,
  ];
  const yamlish = fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 25 }).map((a) => Buffer.from(a.join("")));
  const withBadBytes = fc.tuple(yamlish, fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b.map((x) => 0x80 | x)))).map(([t, b]) => Buffer.concat([t, b, Buffer.from(M)]));
  const nested = fc.tuple(fc.constantFrom("- ", "[", "{a: ", "  a:\n", "? "), fc.integer({ min: 60, max: 3000 })).map(([p, n]) => Buffer.from(`${p.repeat(n)}${M}\n`));
  const laughs = fc.integer({ min: 6, max: 15 }).map((n) => {
    const names = Array.from({ length: n }, (_, i) => `l${i}`);
    return Buffer.from(`${names[0]}: &${names[0]} [${M},${M}]\n${names.slice(1).map((l, i) => `${l}: &${l} [${`*${names[i]},`.repeat(9)}*${names[i]}]`).join("\n")}\n`);
  });
  const paramsFile = fc.oneof(yamlish, withBadBytes, nested, laughs);

  // Always malformed, so that every run is refused: a --set that is not name=value, names no
  // declared parameter, names an inherited one, or gives a mapping parameter malformed text.
  const badSet = fc.oneof(
    fc.tuple(fc.constantFrom("password", "name", "res", ""), fc.constantFrom(":", " ", "\t", "")).map(([n, sep]) => `${n}${sep}${M}`),
    fc.constant(`=${M}`),
    fc.constant(`${M}=x`),
    fc.constantFrom(...INHERITED_NAMES).map((n) => `${n}=${M}`),
    fc.array(fc.constantFrom(...pieces.filter((p) => !p.includes("\uFEFF"))), { minLength: 1, maxLength: 12 }).map((a) => `res=${a.join("")}[${M}`),
  );

  it("exits 1 or 2 with a placed message, never the marker, an internal error or a stack trace, within the time bound", () => {
    const file = path.join(cwd, "fuzz-params.yaml");
    fc.assert(
      fc.property(paramsFile, fc.array(badSet, { minLength: 1, maxLength: 3 }), (bytes, sets) => {
        fs.writeFileSync(file, bytes);
        const r = runMain(["--params", good, "--params", file, ...sets.flatMap((s) => ["--set", s]), ...base]);
        assertCleanRefusal(r);
        assert.ok(!fs.existsSync(path.join(cwd, "out")), "nothing written");
      }),
      { numRuns: 150 },
    );
  });
});
