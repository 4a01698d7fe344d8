import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fullFormats } from "ajv-formats/dist/formats";
import fc from "fast-check";
import { uri } from "../src/param-formats";
import { deriveParams } from "../src/stages/derive-params";
import { parseSetFlags, validateParams } from "../src/stages/validate-params";
import { EXAMPLE_PARAMS, problemsOf, propertyRuns, SHIPPED_SCHEMA, TEST_SCHEMA } from "./helpers";
import type { ParamValues } from "../src/types";

const validate = (values: Record<string, unknown>, origin: Record<string, string> = {}) =>
  validateParams({ values: values as ParamValues, origin, schema: SHIPPED_SCHEMA, schemaFile: "params/schema.json", sources: ["params/prod.json"] });

/** The outputs of the seed's own Heat stack, and nothing gen-manifests added. */
const SEED_OUTPUTS = Object.fromEntries(Object.entries(EXAMPLE_PARAMS).filter(([k]) => (SHIPPED_SCHEMA.required ?? []).includes(k) || k === "swift_region_name"));

describe("validate-params: the shipped schema", () => {
  it("accepts params/example.json and fills every default", () => {
    const params = validate(EXAMPLE_PARAMS);
    assert.equal(params.values.namespace, "openstack");
    assert.equal(params.values.keystone_replicas, 3);
    assert.equal(params.values.swift_storage_replicas, 3);
    assert.equal(params.values.rabbitmq_user, "openstack");
    assert.equal(params.values.image_tag, "zed-1");
    assert.equal(params.origin.namespace, "default");
  });

  it("validates a stack of the seed's outputs with no extra file", () => {
    const params = validate(SEED_OUTPUTS);
    assert.equal(params.values.swift_container, "example-container");
  });

  it("declares every Heat output of the seed by its exact name, each with a description", () => {
    const seedOutputs = [
      "admin_user_password", "demo_user_password", "keystone_admin_password", "keystone_admin_token", "nova_admin_password",
      "neutron_admin_password", "neutron_metadata_secret", "glance_admin_password", "glance_metadata_encryption_key",
      "cinder_admin_password", "swift_admin_password", "swift_hash_path_prefix", "swift_hash_path_suffix", "swift_password",
      "rabbitmq_password", "keystone_db_uri", "nova_db_uri", "neutron_db_uri", "glance_db_uri", "cinder_db_uri", "database_host",
      "swift_auth_url", "swift_region_name", "swift_user", "swift_siteurl", "docker_registry", "docker_image_prefix",
    ];
    for (const name of seedOutputs) {
      const prop = SHIPPED_SCHEMA.properties?.[name];
      assert.ok(prop, `${name} is declared`);
      assert.ok(typeof prop.description === "string" && prop.description.length > 10, `${name} has a description`);
    }
  });

  it("marks every password, key, token and database URI secret", () => {
    const secrets = Object.entries(SHIPPED_SCHEMA.properties ?? {}).filter(([, p]) => p.writeOnly).map(([n]) => n);
    for (const name of Object.keys(SHIPPED_SCHEMA.properties ?? {})) {
      if (/password|secret|token|_key$|hash_path|db_uri/.test(name)) assert.ok(secrets.includes(name), `${name} is secret`);
    }
    assert.ok(!secrets.includes("swift_user") && !secrets.includes("database_host"));
  });

  it("never defaults the image tag to latest, and refuses it", () => {
    assert.notEqual(validate(SEED_OUTPUTS).values.image_tag, "latest");
    assert.match(problemsOf(() => validate({ ...SEED_OUTPUTS, image_tag: "latest" })).join("\n"), /\/image_tag: must NOT be valid/);
  });

  it("reports every problem at once, each naming the parameter and the file that supplied it", () => {
    const values = { ...EXAMPLE_PARAMS, keystone_replicas: "three", nova_db_uri: "not a uri", glance_metadata_encryption_key: "short" } as Record<string, unknown>;
    delete values.swift_password;
    const origin = { keystone_replicas: "params/prod.json", nova_db_uri: "--set", glance_metadata_encryption_key: "params/base.yaml" };
    const problems = problemsOf(() => validate(values, origin));
    assert.deepEqual(problems.sort(), [
      "--set: /nova_db_uri: must be a URI that starts with mysql+pymysql:// (the database driver the images hold)",
      "--set: /nova_db_uri: must match format \"uri\"",
      "params/base.yaml: /glance_metadata_encryption_key: must be exactly 16, 24 or 32 characters long",
      "params/prod.json: /keystone_replicas: must be an integer",
      "params/prod.json: /swift_password: required parameter is missing",
    ]);
  });

  describe("messages an operator can act on", () => {
    const cases: { name: string; values: Record<string, unknown>; problem: string }[] = [
      { name: "a tag read as a number: quote it", values: { image_tag: 2014.2 }, problem: "params/prod.json: /image_tag: must be of type string, and was read as a number: put it in quotes to keep it as written (unquoted, 2014.10 reads as 2014.1)" },
      { name: "a string read as a boolean: quote it", values: { region_name: true }, problem: "params/prod.json: /region_name: must be of type string, and was read as a boolean: put it in quotes to keep it as written (unquoted, 2014.10 reads as 2014.1)" },
      { name: "a mapping where a string belongs: no quoting hint", values: { image_tag: { a: 1 } }, problem: "params/prod.json: /image_tag: must be of type string" },
      { name: "a pattern, in words", values: { namespace: "Open_Stack" }, problem: "params/prod.json: /namespace: must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit" },
      { name: "a pattern of a shared definition ($ref), in words", values: { keystone_resources: { requests: { cpu: "1 core", memory: "1Gi" } } }, problem: "params/prod.json: /keystone_resources/requests/cpu: must be a Kubernetes quantity: a number with an optional unit m, k, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei (500m, 1Gi)" },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const origin = Object.fromEntries(Object.keys(c.values).map((k) => [k, "params/prod.json"]));
        assert.deepEqual(problemsOf(() => validate({ ...EXAMPLE_PARAMS, ...c.values }, origin)), [c.problem]);
      });
    }
    it("every pattern in the shipped schema says in words what it asks for (x-pattern-description)", () => {
      const missing: string[] = [];
      const walk = (node: unknown, at: string): void => {
        if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
        else if (node && typeof node === "object") {
          const o = node as Record<string, unknown>;
          // The placeholder check (patternProperties' not) has a message of its own.
          if (typeof o.pattern === "string" && !at.endsWith("/not") && typeof o["x-pattern-description"] !== "string") missing.push(at);
          for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`);
        }
      };
      walk(SHIPPED_SCHEMA, "");
      assert.deepEqual(missing, []);
    });
  });

  it("accepts encryption keys of 16, 24 and 32 characters only", () => {
    for (const n of [16, 24, 32]) validate({ ...EXAMPLE_PARAMS, glance_metadata_encryption_key: "k".repeat(n) });
    for (const n of [15, 17, 31, 33]) assert.equal(problemsOf(() => validate({ ...EXAMPLE_PARAMS, glance_metadata_encryption_key: "k".repeat(n) })).length, 1);
  });

  // catalog-setup creates swift_user with swift_password: a service user's name would have its password reset.
  const swiftUsers: [string, boolean][] = [["registry", true], ["glance-store", true], ["glance", false], ["Swift", false], ["admin ", false], ["demo", false], ["placement", false], ["nova", false]];
  for (const [user, accepted] of swiftUsers) {
    it(`${accepted ? "accepts" : "refuses"} swift_user ${JSON.stringify(user)}${accepted ? "" : ", a user catalog-setup sets up with its own password"}`, () => {
      if (accepted) return assert.equal(validate({ ...EXAMPLE_PARAMS, swift_user: user }).values.swift_user, user);
      const problems = problemsOf(() => validate({ ...EXAMPLE_PARAMS, swift_user: user }));
      assert.deepEqual(problems, ["params/prod.json: /swift_user: is refused: it " + (SHIPPED_SCHEMA.properties!.swift_user.not as { description: string }).description]);
      assert.match(problems[0], /catalog-setup would set that user's password to swift_password/);
    });
  }

  it("never prints a value in a message", () => {
    const problems = problemsOf(() => validate({ ...EXAMPLE_PARAMS, keystone_db_uri: "SENTINEL-not a uri", swift_hash_path_prefix: "" }));
    assert.ok(problems.length >= 2);
    assert.doesNotMatch(problems.join("\n"), /SENTINEL/);
  });
});

describe("derive-params", () => {
  const cases = [
    { url: "https://storage.example.com/v1/AUTH_tenant/images", container: "images", tenant: "AUTH_tenant" },
    { url: "https://s.example.com/v1/MossoCloudFS%20x/my%2Fcontainer/", container: "my/container", tenant: "MossoCloudFS x" },
  ];
  for (const c of cases) {
    it(`takes container and tenant from ${c.url}`, () => {
      const { values, origin } = deriveParams({ swift_siteurl: c.url }, { swift_siteurl: "stack.json" });
      assert.equal(values.swift_container, c.container);
      assert.equal(values.swift_tenant_name, c.tenant);
      assert.equal(origin.swift_container, "stack.json (derived from swift_siteurl)");
    });
  }
  it("keeps a value the operator gave", () => {
    assert.equal(deriveParams({ swift_siteurl: cases[0].url, swift_container: "mine" }, {}).values.swift_container, "mine");
  });
});

describe("--set", () => {
  const cases: { set: string; value?: unknown; error?: RegExp }[] = [
    { set: "name=0123", value: "0123" },
    { set: "name=a=b", value: "a=b" },
    { set: "name=", value: "" },
    { set: "replicas=5", value: 5 },
    { set: "flag=true", value: true },
    { set: 'obj={"cpu":"1"}', value: { cpu: "1" } },
    { set: "replicas=five", error: /^--set argument 1 \(replicas\): expected a value of type integer$/ },
    { set: "replicas=9007199254740992", value: 2 ** 53 },
    { set: "replicas=9007199254740993", error: /^--set argument 1 \(replicas\): an integer that cannot be kept exactly: .*\(an ID\)$/ },
    { set: "nmae=x", error: /^--set argument 1: the name is not a declared parameter \(did you mean name\?\)$/ },
    { set: "novalue", error: /^--set argument 1: expected name=value \(not shown: it may hold a secret\)$/ },
    { set: "=x", error: /^--set argument 1: expected name=value, and there is no name before '='$/ },
  ];
  for (const c of cases) {
    it(c.set, () => {
      if (c.error) {
        const problems = problemsOf(() => parseSetFlags([c.set], TEST_SCHEMA));
        assert.match(problems[0], c.error);
      } else {
        const key = c.set.split("=")[0];
        assert.deepEqual(parseSetFlags([c.set], TEST_SCHEMA).values[key], c.value);
      }
    });
  }
});

describe("the uri format", () => {
  const full = fullFormats.uri as (s: string) => boolean;
  const table: [string, boolean][] = [
    ["http://10.0.0.1:5000/v2.0", true],
    ["mysql+pymysql://nova:pw@db.openstack.svc:3306/nova?charset=utf8", true],
    ["https://[fe80::1]:8774/", true],
    ["http://example.com/a%20b", true],
    ["http://example.com/a b", false],
    ["http://exa mple.com", false],
    ["http://example.com/%zz", false],
    ["no-scheme", false],
    ["1http://x", false],
    ["urn:isbn:0451450523", true],
    ["HTTP://EXAMPLE.COM/Path", true],
    ["", false],
  ];
  for (const [s, expected] of table) {
    it(`${JSON.stringify(s)} ${expected ? "is" : "is not"} a URI, as ajv-formats' full expression says`, () => {
      assert.equal(uri(s), expected);
      assert.equal(full(s), expected);
    });
  }

  it("gives ajv-formats' answer for any string made of URI characters and a few others", () => {
    const char = fc.constantFrom(..."aZ09+-._~!$&'()*,;=:@/?#%[]fF ésvV\n".split(""));
    const uriLike = fc.tuple(
      fc.constantFrom("http://", "mysql+pymysql://", "a:", "a:/", "", "1a://", "urn:"),
      fc.array(char, { maxLength: 30 }).map((cs) => cs.join("")),
    ).map(([scheme, rest]) => scheme + rest);
    fc.assert(fc.property(uriLike, (s) => uri(s) === full(s)), { numRuns: propertyRuns(20000, 2000) });
  });

  it("still refuses a bad percent-escape in a parameter, and accepts a good one", () => {
    const problems = problemsOf(() => validate({ ...EXAMPLE_PARAMS, keystone_db_uri: "mysql+pymysql://db%zz:3306/k" }));
    assert.ok(problems.some((p) => p.includes("/keystone_db_uri: must match format \"uri\"")), problems.join("\n"));
    validate({ ...EXAMPLE_PARAMS, keystone_db_uri: "mysql+pymysql://db%41:3306/k" });
  });
});
