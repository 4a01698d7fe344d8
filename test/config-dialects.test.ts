// Values in config files stay data: each config format's writer, in tables; then whole files
// rendered with hostile values and read back by the programs' own parsers (oslo.config, Python's
// ConfigParser and paste.deploy), every value compared.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { type DialectName, type Piece, writeConfigText } from "../src/config-dialects";
import type { ParamSchema } from "../src/types";
import { problemsOf, renderInMemory, secretText, tmpDir } from "./helpers";

/** `{0}` in a line stands for value 0 of `values`. */
function write(dialect: DialectName, text: string, values: unknown[]): { text: string; faults: string[] } {
  const pieces: Piece[] = text.split(/(\{\d+\})/).filter((p) => p !== "").map((p) => (/^\{\d+\}$/.test(p) ? { token: Number(p.slice(1, -1)) } : p));
  const r = writeConfigText(dialect, pieces, (i) => values[i]);
  return { text: r.text, faults: r.faults.map((f) => `${f.token}: ${f.reason}`) };
}

describe("config-dialects: how each format writes a value", () => {
  const cases: { name: string; dialect: DialectName; text: string; values: unknown[]; expected?: string; fault?: RegExp }[] = [
    { name: "oslo: a plain value as it is", dialect: "oslo", text: "[a]\npassword = {0}\n", values: ["abc123"], expected: "[a]\npassword = abc123\n" },
    { name: "oslo: $ doubled (no substitution)", dialect: "oslo", text: "p = {0}", values: ["a$b${c}"], expected: "p = a$$b$${c}" },
    { name: "oslo: the template's own $ is kept (a substitution it means)", dialect: "oslo", text: "p = $state_path/{0}", values: ["x$"], expected: "p = $state_path/x$$" },
    { name: "oslo: blanks at either end kept by quotes", dialect: "oslo", text: "p = {0}", values: [" a b "], expected: 'p = " a b "' },
    { name: "oslo: a value in quotes keeps them", dialect: "oslo", text: "p = {0}", values: ['"q"'], expected: 'p = ""q""' },
    { name: "oslo: one quote", dialect: "oslo", text: "p = {0}", values: ["'"], expected: `p = "'"` },
    { name: "oslo: # and ; are no comments after =", dialect: "oslo", text: "p = {0}", values: ["#x;y"], expected: "p = #x;y" },
    { name: "oslo: a value inside a URL", dialect: "oslo", text: "c = mysql+pymysql://u:{0}@db/k", values: ["p$w"], expected: "c = mysql+pymysql://u:p$$w@db/k" },
    { name: "oslo: numbers and booleans as text", dialect: "oslo", text: "n = {0}\nb = {1}", values: [3, false], expected: "n = 3\nb = false" },
    { name: "oslo: a line break refused", dialect: "oslo", text: "p = {0}", values: ["a\nb = c"], fault: /^0: holds a line break, which an oslo\.config file cannot hold$/ },
    { name: "oslo: a carriage return refused", dialect: "oslo", text: "p = {0}", values: ["a\rb"], fault: /line break/ },
    { name: "oslo: a control character refused", dialect: "oslo", text: "p = {0}", values: ["a\u0000b"], fault: /control character/ },
    { name: "oslo: an object refused", dialect: "oslo", text: "p = {0}", values: [{ a: 1 }], fault: /not a text, number or boolean/ },
    { name: "oslo: a value in a section header refused", dialect: "oslo", text: "[{0}]", values: ["a"], fault: /section header/ },
    { name: "oslo: a value as an option's name refused", dialect: "oslo", text: "{0} = 1", values: ["a"], fault: /option's name/ },
    { name: "oslo: a value in a name before = refused", dialect: "oslo", text: "x{0} = 1", values: ["a"], fault: /option's name/ },
    { name: "oslo: a value in a continuation line refused", dialect: "oslo", text: "p = 1\n  {0}", values: ["a"], fault: /indented line/ },
    { name: "oslo: a value in a comment refused", dialect: "oslo", text: "# {0}", values: ["a"], fault: /comment/ },
    { name: "paste: % doubled", dialect: "paste", text: "p = {0}", values: ["100%(here)s"], expected: "p = 100%%(here)s" },
    { name: "paste: $ and quotes as they are", dialect: "paste", text: "p = {0}", values: [`$a"'`], expected: `p = $a"'` },
    { name: "paste: a blank at an end refused", dialect: "paste", text: "p = {0}", values: ["a "], fault: /blank, which ConfigParser strips/ },
    { name: "paste: a blank inside is kept", dialect: "paste", text: "p = x{0}y", values: [" a "], expected: "p = x a y" },
    // swift's NicerInterpolation interpolates only a value that holds "%(": % is doubled only then.
    { name: "swift: % as it is in a value without %(", dialect: "swift", text: "p = {0}", values: ["100% $x %%"], expected: "p = 100% $x %%" },
    { name: "swift: every % doubled in a value with %(", dialect: "swift", text: "p = {0}", values: ["5% of %(here)s"], expected: "p = 5%% of %%(here)s" },
    { name: "swift: a % that the template's ( follows makes a %(", dialect: "swift", text: "p = {0}(x)", values: ["a%"], expected: "p = a%%(x)" },
    { name: "swift: the template's own %(here)s kept, the value's % doubled", dialect: "swift", text: "p = %(here)s/{0}", values: ["b%c"], expected: "p = %(here)s/b%%c" },
    { name: "swift: a blank at an end refused", dialect: "swift", text: "p = {0}", values: [" a"], fault: /blank, which ConfigParser strips/ },
    { name: "uwsgi: a port", dialect: "uwsgi", text: "http-socket = :{0}", values: [5000], expected: "http-socket = :5000" },
    { name: "uwsgi: % refused", dialect: "uwsgi", text: "processes = {0}", values: ["%k"], fault: /uwsgi reads/ },
    { name: "rabbitmq: # refused", dialect: "rabbitmq", text: "a = {0}", values: ["x#y"], fault: /cuttlefish/ },
    { name: "json: inside a string, escaped", dialect: "json", text: '{"p": "{0}"}', values: ['a"\\\n'], expected: '{"p": "a\\"\\\\\\n"}' },
    { name: "json: outside a string, a JSON value", dialect: "json", text: '{"n": {0}, "s": {1}}', values: [3, 'x"'], expected: '{"n": 3, "s": "x\\""}' },
    // JSON leaves these raw, a YAML reader does not read them as written (the registry's config.yml is JSON read as YAML).
    { name: "json: DEL, C1 controls and U+2028/U+2029 escaped", dialect: "json", text: '{"p": "{0}"}', values: ["a\u007fb\u0085c\u2028d\u2029e"], expected: '{"p": "a\\u007fb\\u0085c\\u2028d\\u2029e"}' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = write(c.dialect, c.text, c.values);
      if (c.fault) {
        assert.equal(r.faults.length > 0, true, `expected a fault, got ${JSON.stringify(r.text)}`);
        assert.match(r.faults[0], c.fault);
      } else {
        assert.deepEqual(r.faults, []);
        assert.equal(r.text, c.expected);
      }
    });
  }
});

/** Values no config file may change: every character the formats treat specially. */
const HOSTILE = [
  "plain",
  "pa$$word",
  "${foo}",
  "$foo",
  "$",
  "100%",
  "%(here)s",
  "%",
  "#hash",
  ";semi",
  "a # b ; c",
  '"quoted"',
  "'single'",
  '"',
  "'",
  "\"mixed'",
  " lead",
  "trail ",
  "  both  ",
  "a = b",
  "k: v",
  "[section]",
  "x\ty",
  "\\back\\slash\\",
  "é€😀",
  "`tick` @at {brace}",
];

const schemaOf = (count: number): ParamSchema => ({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: Object.fromEntries(Array.from({ length: count }, (_, i) => [`p${i}`, { type: "string", writeOnly: true }])),
});

/** A Secret holding one config file of `dialect` with an option `p<i>` per value, rendered; its text. */
function renderConfig(dialect: DialectName, lines: (i: number) => string, values: string[]): string {
  const body = values.map((_, i) => `    ${lines(i)}`).join("\n");
  const template = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  file: |\n    {{#config "${dialect}"}}\n    [DEFAULT]\n    [group]\n${body}\n    {{/config}}\n`;
  const params = Object.fromEntries(values.map((v, i) => [`p${i}`, v]));
  const result = renderInMemory({ templates: { "s.yaml.hbs": template }, params, schema: schemaOf(values.length) });
  return secretText(result.manifests[0].object).file;
}

/** Runs Debian's Python (where oslo.config, paste.deploy and swift are installed) with a JSON request. */
function python(script: string, request: unknown): unknown {
  const r = spawnSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(request), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const READ_OSLO = `
import json, sys
from oslo_config import cfg
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf.register_opts([cfg.StrOpt(n, secret=True) for n in req["names"]], group="group")
conf(args=[], default_config_files=[req["file"]])
print(json.dumps([conf.group[n] for n in req["names"]]))
`;

const READ_PASTE = `
import json, sys, configparser
from paste.deploy.loadwsgi import NicerConfigParser
req = json.load(sys.stdin)
plain = configparser.ConfigParser()
plain.optionxform = str
plain.read(req["file"], encoding="utf-8")
nicer = NicerConfigParser(req["file"], defaults={"here": "/etc/swift", "__file__": req["file"]})
nicer.optionxform = str
nicer.read(req["file"], encoding="utf-8")
print(json.dumps([[plain.get("group", n) for n in req["names"]], [nicer.get("group", n) for n in req["names"]]]))
`;

/** A swift server's file as swift.common.wsgi gives it to the app (paste.deploy, swift's interpolation), and a daemon's section as readconf gives it. */
const READ_SWIFT = `
import json, sys
from swift.common.utils import readconf
from swift.common.wsgi import appconfig
req = json.load(sys.stdin)
server = appconfig(req["file"], name="main")
daemon = readconf(req["file"], "object-auditor")
print(json.dumps([{k: v for k, v in server.items() if isinstance(v, str)}, {k: v for k, v in daemon.items() if isinstance(v, str)}]))
`;

const READ_GLANCE_SWIFT = `
import json, sys
from glance_store._drivers.swift.utils import SwiftConfigParser
req = json.load(sys.stdin)
c = SwiftConfigParser()
c.read(req["file"], encoding="utf-8")
print(json.dumps([c.get("group", n) for n in req["names"]]))
`;

describe("config files: hostile values read back exactly by the services' own parsers", () => {
  const dir = tmpDir();
  const names = HOSTILE.map((_, i) => `p${i}`);

  it("oslo.config reads every value as written in the parameters (a $, quote, blank, # or ; changes nothing)", () => {
    const text = renderConfig("oslo", (i) => `p${i} = {{p${i}}}`, HOSTILE);
    const file = path.join(dir, "oslo.conf");
    fs.writeFileSync(file, text);
    assert.deepEqual(python(READ_OSLO, { file, names }), HOSTILE);
  });

  it("oslo.config reads a value inside a longer one (a database URI's password) exactly", () => {
    const text = renderConfig("oslo", (i) => `p${i} = mysql+pymysql://keystone:{{p${i}}}@db/keystone`, HOSTILE);
    const file = path.join(dir, "oslo-uri.conf");
    fs.writeFileSync(file, text);
    assert.deepEqual(python(READ_OSLO, { file, names }), HOSTILE.map((v) => `mysql+pymysql://keystone:${v}@db/keystone`));
  });

  it("ConfigParser and paste.deploy (swift's readers) read every value they can hold as written", () => {
    const holdable = HOSTILE.filter((v) => v.trim() === v);
    const text = renderConfig("paste", (i) => `p${i} = {{p${i}}}`, holdable);
    const file = path.join(dir, "paste.conf");
    fs.writeFileSync(file, text);
    const [plain, nicer] = python(READ_PASTE, { file, names: holdable.map((_, i) => `p${i}`) }) as string[][];
    assert.deepEqual(plain, holdable);
    assert.deepEqual(nicer, holdable);
  });

  it("swift's servers (paste.deploy as swift loads it) and daemons (readconf) read every value they can hold as written", () => {
    const holdable = HOSTILE.filter((v) => v.trim() === v);
    const lines = (prefix: string) => holdable.map((_, i) => `    ${prefix}${i} = {{p${i}}}`).join("\n");
    const template = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  file: |\n    {{#config "swift"}}\n    [DEFAULT]\n${lines("d")}\n    [app:main]\n    use = egg:swift#object\n${lines("a")}\n    [object-auditor]\n${lines("o")}\n    {{/config}}\n`;
    const params = Object.fromEntries(holdable.map((v, i) => [`p${i}`, v]));
    const result = renderInMemory({ templates: { "s.yaml.hbs": template }, params, schema: schemaOf(holdable.length) });
    const file = path.join(dir, "swift-server.conf");
    fs.writeFileSync(file, secretText(result.manifests[0].object).file);
    const [server, daemon] = python(READ_SWIFT, { file }) as Record<string, string>[];
    holdable.forEach((v, i) => {
      assert.equal(server[`d${i}`], v, `[DEFAULT] d${i}, as the server reads it`);
      assert.equal(server[`a${i}`], v, `[app:main] a${i}, as the server reads it`);
      assert.equal(daemon[`d${i}`], v, `[DEFAULT] d${i}, as the daemon reads it`);
      assert.equal(daemon[`o${i}`], v, `[object-auditor] o${i}, as the daemon reads it`);
    });
  });

  it("glance_store's swift reference file reads every value as written (its quotes and ConfigParser's %)", () => {
    const text = renderConfig("glance-swift", (i) => `p${i} = {{p${i}}}`, HOSTILE);
    const file = path.join(dir, "glance-swift.conf");
    fs.writeFileSync(file, text);
    assert.deepEqual(python(READ_GLANCE_SWIFT, { file, names }), HOSTILE);
  });

  it("a value ConfigParser cannot hold (a blank at an end) is refused at its place, the value not shown", () => {
    const problems = problemsOf(() => renderConfig("paste", (i) => `p${i} = {{p${i}}}`, ["ok", " secret-lead"]));
    assert.deepEqual(problems, [
      "tpl/s.yaml.hbs:11:10: the value of {{p1}} (params.json: /p1) starts or ends with a blank, which ConfigParser strips: a swift/paste.deploy config file (Python ConfigParser) cannot hold it here (the value is not shown)",
    ]);
  });

  it("a line break is refused at the parameter's place and the template's, every one at once, the value not shown", () => {
    const problems = problemsOf(() => renderConfig("oslo", (i) => `p${i} = x{{p${i}}}`, ["fine", "s3cret\n[evil]\nadmin = true", "also\r"]));
    assert.deepEqual(problems, [
      "tpl/s.yaml.hbs:11:11: the value of {{p1}} (params.json: /p1) holds a line break, which an oslo.config file cannot hold (the value is not shown)",
      "tpl/s.yaml.hbs:12:11: the value of {{p2}} (params.json: /p2) holds a line break, which an oslo.config file cannot hold (the value is not shown)",
    ]);
    assert.ok(!problems.join("\n").includes("s3cret"));
  });

  it("a value in a config file's text outside a {{#config}} block is refused: the escaping cannot be forgotten", () => {
    const template = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  keystone.conf: |\n    [database]\n    connection = {{p0}}\n";
    const problems = problemsOf(() => renderInMemory({ templates: { "s.yaml.hbs": template }, params: { p0: "x" }, schema: schemaOf(1) }));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^tpl\/s\.yaml\.hbs:8:18: \{\{p0\}\} is written into a config file's text; .*\{\{#config "<format>"\}\}/);
    // By its key's name alone, and by a section header under any key.
    const byKey = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  rabbitmq.conf: 'listeners.tcp.1 = {{p0}}'\n  other: |\n    [DEFAULT]\n    x = {{p0}}\n";
    const both = problemsOf(() => renderInMemory({ templates: { "s.yaml.hbs": byKey }, params: { p0: "x" }, schema: { ...schemaOf(1), properties: { p0: { type: "string" } } } }));
    assert.equal(both.length, 2, both.join("\n"));
  });

  it("free text of several lines (a message) takes values as text", () => {
    const template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  motd: |\n    Served from {{p0}}.\n";
    const result = renderInMemory({ templates: { "s.yaml.hbs": template }, params: { p0: "a $b" }, schema: { ...schemaOf(1), properties: { p0: { type: "string" } } } });
    assert.equal((result.manifests[0].object as unknown as { data: Record<string, string> }).data.motd, "Served from a $b.\n");
  });

  it("a {{#config}} block names a known format", () => {
    const template = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: |\n    {{#config "toml"}}\n    a = {{p0}}\n    {{/config}}\n';
    const problems = problemsOf(() => renderInMemory({ templates: { "s.yaml.hbs": template }, params: { p0: "x" }, schema: schemaOf(1) }));
    assert.match(problems[0], /^tpl\/s\.yaml\.hbs:7:5: #config names the format of the text it writes: one of "oslo", "paste", "swift", "glance-swift", "uwsgi", "rabbitmq", "json"$/);
  });

  it("a value printed by a partial inside a {{#config}} block is written by the block's format", () => {
    const templates = {
      "_opt.hbs": "p = {{value}}\n",
      "s.yaml.hbs": 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  f: |\n    {{#config "oslo"}}\n    [g]\n    {{> opt value=p0}}\n    {{/config}}\n',
    };
    const result = renderInMemory({ templates, params: { p0: "a$b" }, schema: schemaOf(1) });
    assert.equal(secretText(result.manifests[0].object).f, "[g]\np = a$$b\n");
  });
});
