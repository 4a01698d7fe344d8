// A parameters file made before a newer schema: one error that lists what to add, and
// `init-params --upgrade` that adds it (fresh secrets), keeping every value the file has.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { upgradeParams } from "../src/stages/init-params";
import { validateParams } from "../src/stages/validate-params";
import type { ParamValues } from "../src/types";
import { EXAMPLE_PARAMS, problemsOf, runCli, SHIPPED_SCHEMA, tmpDir } from "./helpers";

const NEW = [
  "keystone_fernet_key_0", "keystone_fernet_key_1", "keystone_fernet_key_2", "keystone_credential_key_0", "keystone_credential_key_1", "memcache_secret_key",
  // placement and nova's API database (issue 17): the URIs are assembled on the file's database_host.
  "placement_admin_password", "nova_api_db_uri", "placement_db_uri",
];
const sorted = (names: string[]): string[] => [...names].sort();

/** The shipped example as it was before this schema: no new secrets, the seed's database driver. */
const seedEra = (): Record<string, unknown> => {
  const old: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(EXAMPLE_PARAMS)) {
    if (NEW.includes(k)) continue;
    old[k] = typeof v === "string" ? v.replace(/^mysql\+pymysql:/, "mysql+mysqlconnector:") : v;
  }
  return old;
};

const validate = (values: Record<string, unknown>) => validateParams({ values: values as ParamValues, origin: {}, schema: SHIPPED_SCHEMA, schemaFile: "params/schema.json", sources: ["old.json"] });

describe("a parameters file from before this schema", () => {
  it("gets one error listing every parameter to add, and one per seed-era database URI saying what to write", () => {
    const problems = problemsOf(() => validate(seedEra()));
    const listed = /^old\.json: (\d+) required parameters are missing: (.*)\. Add them; `gen-manifests init-params --upgrade FILE` adds those it can generate \(new secrets\), keeping every value FILE has$/.exec(problems[0]);
    assert.ok(listed, problems[0]);
    assert.equal(Number(listed[1]), NEW.length);
    assert.deepEqual(sorted(listed[2].split(", ")), sorted(NEW));
    assert.equal(problems.filter((p) => p.includes("required parameter")).length, 1);
    assert.ok(problems.some((p) => /^old\.json: \/keystone_db_uri: uses the seed's mysql\+mysqlconnector:\/\/ driver/.test(p)), problems.join("\n"));
  });

  it("init-params --upgrade adds the new secrets and moves the driver, keeping every other value, comment and order (YAML)", () => {
    const old = seedEra();
    const text = `# my cloud\n${Object.entries(old).map(([k, v]) => `${k}: ${JSON.stringify(v)} # kept`).join("\n")}\n`;
    const up = upgradeParams({ schema: SHIPPED_SCHEMA, file: { path: "old.yaml", text } });
    assert.deepEqual(sorted(up.added), sorted(NEW));
    assert.deepEqual(up.rewritten, ["keystone_db_uri", "nova_db_uri", "neutron_db_uri", "glance_db_uri", "cinder_db_uri"]);
    assert.deepEqual(up.missing, []);
    assert.ok(up.text.startsWith(`# my cloud\nadmin_user_password: ${JSON.stringify(old.admin_user_password)} # kept\n`), up.text.slice(0, 200));
    const values = validate((require("yaml") as typeof import("yaml")).parse(up.text)).values;
    for (const [k, v] of Object.entries(old)) if (typeof v !== "string" || !v.startsWith("mysql")) assert.equal(values[k], v, k);
    assert.equal(values.keystone_db_uri, EXAMPLE_PARAMS.keystone_db_uri);
    assert.match(String(values.keystone_fernet_key_0), /^[A-Za-z0-9]{43}=$/);
    // A new database on the file's own database host, with a fresh password.
    assert.match(String(values.placement_db_uri), /^mysql\+pymysql:\/\/placement_admin:[A-Za-z0-9]{32}@db\.example\.com\/placement\?charset=utf8$/);
    assert.match(String(values.nova_api_db_uri), /^mysql\+pymysql:\/\/nova_api_admin:[A-Za-z0-9]{32}@db\.example\.com\/nova_api\?charset=utf8$/);
  });

  it("the command: rewrites the file in place (mode 0600), then finds nothing more to add; a Heat stack's output is refused", () => {
    const dir = tmpDir();
    const file = path.join(dir, "old.json");
    fs.writeFileSync(file, JSON.stringify(seedEra(), null, 2));
    const first = runCli(["init-params", "--upgrade", file]);
    assert.equal(first.status, 0, first.all);
    const added = new RegExp(`added to .*old\\.json: (.*) \\(secrets generated\\)`).exec(first.stdout);
    assert.ok(added, first.stdout);
    assert.deepEqual(sorted(added[1].split(", ")), sorted(NEW));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const after = fs.readFileSync(file, "utf8");
    assert.equal(runCli(["--params", file, "--out", path.join(dir, "out"), "--secrets-out", path.join(dir, "secrets")]).status, 0);
    const second = runCli(["init-params", "--upgrade", file]);
    assert.match(second.stdout, /no parameter to add/);
    assert.equal(fs.readFileSync(file, "utf8"), after);
    assert.doesNotMatch(first.all + second.all, /EXAMPLE-/);

    const stack = path.join(dir, "stack.json");
    fs.writeFileSync(stack, JSON.stringify({ stack_name: "s", stack_status: "CREATE_COMPLETE", outputs: [] }));
    const heat = runCli(["init-params", "--upgrade", stack]);
    assert.equal(heat.status, 1);
    assert.match(heat.stderr, /is a Heat stack's output: update the stack with the new params\/heat-setup\.yaml/);
  });
});
