// The shipped set's config files, rendered with hostile secrets, read back by the services' own
// parsers (every value compared), and checked against the options each service really has.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runPipeline } from "../src/pipeline";
import { readInputs } from "../src/read-inputs";
import { REPO, tmpDir } from "./helpers";

// Every character the formats treat specially, and blanks at the ends (where a format can hold them).
const HOSTILE = ` p$a%s#s;w'o"r=d:[x] $$\${x} %(here)s `;
const HOSTILE_INNER = HOSTILE.trim();
// A URI's password as an operator writes it (percent-encoded where a URI must be): `$`, `;`, `'` and `%` after decoding.
const DB_URI = "mysql+pymysql://keystone_admin:p$a;s'w(o)r!d%25@db.example.com/keystone?charset=utf8";

const inputs = readInputs({ params: ["params/example.json"] }, REPO);
const example = JSON.parse(inputs.paramsFiles[0].text) as Record<string, unknown>;
const hostile = {
  ...example,
  admin_user_password: HOSTILE,
  glance_admin_password: HOSTILE,
  memcache_secret_key: HOSTILE_INNER,
  swift_admin_password: HOSTILE,
  swift_password: HOSTILE,
  rabbitmq_password: HOSTILE,
  keystone_db_uri: DB_URI,
  nova_admin_password: HOSTILE,
  placement_admin_password: HOSTILE,
  neutron_admin_password: HOSTILE,
  neutron_metadata_secret: HOSTILE,
  nova_db_uri: DB_URI.replace(/keystone/g, "nova"),
  placement_db_uri: DB_URI.replace(/keystone/g, "placement"),
};
const result = runPipeline({ ...inputs, paramsFiles: [{ path: "hostile.json", text: JSON.stringify(hostile) }], sets: [], outDir: "out", secretsDir: "secrets", inlineSecrets: false });
const secretData = (name: string): Record<string, string> => {
  const o = result.manifests.find((m) => m.object.kind === "Secret" && m.object.metadata.name === name);
  assert.ok(o, `Secret ${name}`);
  return (o.object as unknown as { stringData: Record<string, string> }).stringData;
};

const dir = tmpDir();
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

function python(script: string, request: unknown): unknown {
  const r = spawnSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(request), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Each [file, group, option] as oslo.config gives it to the service (substitutions done). */
const READ_OSLO = `
import json, sys
from oslo_config import cfg
out = []
for file, group, name in json.load(sys.stdin):
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt(name, secret=True), group=group)
    conf(args=[], default_config_files=[file])
    out.append(conf[group][name])
print(json.dumps(out))
`;

/** swift's authtoken filter as keystonemiddleware configures it from paste.deploy, and glance_store's reference file. */
const READ_OTHERS = `
import json, sys
from paste.deploy.loadwsgi import NicerConfigParser
from keystonemiddleware._common.config import Config
from keystonemiddleware.auth_token import list_opts
from keystoneauth1 import loading
from glance_store._drivers.swift.utils import SwiftConfigParser
req = json.load(sys.stdin)
paste = NicerConfigParser(req["proxy"], defaults={"here": "/etc/swift", "__file__": req["proxy"]})
paste.optionxform = str
paste.read(req["proxy"], encoding="utf-8")
local = {k: paste.get("filter:authtoken", k) for k in paste.options("filter:authtoken") if k not in ("here", "__file__")}
local["oslo_config_file"] = req["authtoken"]
conf = Config("auth_token", "keystone_authtoken", list_opts(), local)
# As the middleware loads its auth plugin: the plugin's options, read through the same config.
conf.oslo_conf_obj.register_opts(loading.get_auth_plugin_conf_options(conf.get("auth_type")), group="keystone_authtoken")
store = SwiftConfigParser()
store.read(req["store"], encoding="utf-8")
print(json.dumps([conf.get("password"), conf.get("memcache_secret_key"), store.get("store", "key")]))
`;

describe("shipped config files: hostile secrets arrive exactly", () => {
  it("keystone.conf and glance-api.conf, read by oslo.config", () => {
    const keystone = write("keystone.conf", secretData("keystone-config")["keystone.conf"]);
    const glance = write("glance-api.conf", secretData("glance-config")["glance-api.conf"]);
    const got = python(READ_OSLO, [
      [keystone, "database", "connection"],
      [glance, "keystone_authtoken", "password"],
      [glance, "keystone_authtoken", "memcache_secret_key"],
    ]);
    assert.deepEqual(got, [DB_URI, HOSTILE, HOSTILE_INNER]);
  });

  it("nova.conf and placement.conf, read by oslo.config; nova's transport URL as oslo.messaging reads it", () => {
    const nova = write("nova.conf", secretData("nova-config")["nova.conf"]);
    const placement = write("placement.conf", secretData("placement-config")["placement.conf"]);
    const got = python(READ_OSLO, [
      [nova, "keystone_authtoken", "password"],
      [nova, "service_user", "password"],
      [nova, "placement", "password"],
      [nova, "neutron", "password"],
      [nova, "neutron", "metadata_proxy_shared_secret"],
      [nova, "database", "connection"],
      [placement, "keystone_authtoken", "password"],
      [placement, "placement_database", "connection"],
    ]);
    assert.deepEqual(got, [HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, hostile.nova_db_uri, HOSTILE, hostile.placement_db_uri]);
    // The password inside transport_url is percent-encoded; oslo.messaging decodes it.
    const transport = python(
      "import json, sys\nfrom oslo_config import cfg\nimport oslo_messaging\nconf = cfg.ConfigOpts()\nconf.register_opt(cfg.StrOpt('transport_url'))\nconf(args=[], default_config_files=[json.load(sys.stdin)])\nhost = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), conf.transport_url).hosts[0]\nprint(json.dumps([host.username, host.password, host.hostname, host.port]))",
      nova,
    );
    assert.deepEqual(transport, ["openstack", HOSTILE, "rabbitmq", 5672]);
  });

  it("swift's authtoken filter (paste.deploy, then its oslo.config file) and glance's swift reference file (glance_store)", () => {
    const proxy = write("proxy-server.conf", secretData("swift-config")["proxy-server.conf"]);
    const authtoken = write("authtoken.conf", secretData("swift-config")["authtoken.conf"]);
    const store = write("glance-swift.conf", secretData("glance-config")["glance-swift.conf"]);
    assert.deepEqual(python(READ_OTHERS, { proxy, authtoken, store }), [HOSTILE, HOSTILE_INNER, HOSTILE]);
  });

  it("RabbitMQ's definitions file (JSON)", () => {
    const definitions = JSON.parse(secretData("rabbitmq-config")["definitions.json"]);
    assert.equal(definitions.users[0].password, HOSTILE);
  });

  it("the registry's config.yml (JSON, read by a YAML parser as distribution reads it)", () => {
    const file = write("config.yml", secretData("docker-registry")["config.yml"]);
    const got = python("import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(json.load(sys.stdin)))['storage']['swift']['password']))", file);
    assert.equal(got, HOSTILE);
  });

  it("a value ConfigParser cannot hold (a blank at an end) is refused where swift would lose it", () => {
    const r = (() => {
      try {
        runPipeline({ ...inputs, paramsFiles: [{ path: "hostile.json", text: JSON.stringify({ ...hostile, swift_hash_path_prefix: " prefix " }) }], sets: [], outDir: "out", secretsDir: "secrets", inlineSecrets: false });
        return "";
      } catch (e) {
        return String((e as Error).message);
      }
    })();
    assert.match(r, /kubernetes-in\/swift\.yaml\.hbs:\d+:\d+: the value of \{\{swift_hash_path_prefix\}\} \(hostile\.json: \/swift_hash_path_prefix\) starts or ends with a blank/);
    assert.ok(!r.includes(" prefix "));
  });
});

// Each oslo.config file of the set and the option namespaces of the service that reads it.
// Groups named at run time (glance's backends) are checked against the store's options.
const OSLO_FILES: Record<string, { secret: string; namespaces: string[]; dynamicGroups?: { groups: string[]; namespaces: string[] } }> = {
  "authtoken.conf": { secret: "swift-config", namespaces: ["keystonemiddleware.auth_token"] },
  "keystone.conf": { secret: "keystone-config", namespaces: ["keystone", "oslo.cache", "oslo.log", "oslo.db", "oslo.policy", "oslo.messaging", "oslo.middleware", "osprofiler"] },
  "glance-api.conf": {
    secret: "glance-config",
    namespaces: ["glance.api", "glance.store", "glance.multi_store", "oslo.concurrency", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware.cors", "oslo.middleware.http_proxy_to_wsgi", "oslo.policy", "keystonemiddleware.auth_token", "osprofiler", "oslo.limit"],
    dynamicGroups: { groups: ["swift", "os_glance_staging_store", "os_glance_tasks_store"], namespaces: ["glance.store"] },
  },
  // nova.conf's own namespace holds its [placement], [neutron], [glance], [cinder] and [service_user] options.
  "nova.conf": { secret: "nova-config", namespaces: ["nova.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.messaging", "oslo.concurrency", "oslo.db"] },
  "placement.conf": { secret: "placement-config", namespaces: ["placement.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.db", "oslo.concurrency"] },
};

function validate(file: string, namespaces: string[], exclude: string[] = []): { status: number | null; errors: string } {
  const args = [...namespaces.flatMap((n) => ["--namespace", n]), ...exclude.flatMap((g) => ["--exclude-group", g]), "--input-file", file];
  const r = spawnSync("/usr/bin/oslo-config-validator", args, { encoding: "utf8" });
  return { status: r.status, errors: r.stderr.split("\n").filter((l) => l.startsWith("ERROR")).join("\n") };
}

/** Only the named groups of an INI text, each renamed to `to`. */
const groupsAs = (text: string, groups: string[], to: string): string => {
  let keep = false;
  return text
    .split("\n")
    .flatMap((line) => {
      const header = /^\[(.+)\]$/.exec(line);
      if (header) keep = groups.includes(header[1]);
      return keep ? [header ? `[${to}]` : line] : [];
    })
    .join("\n");
};

describe("shipped config files: every option is one the service has (oslo-config-validator)", () => {
  it("every oslo.config file of the set is in the table below", () => {
    const files = result.manifests.flatMap((m) => Object.keys((m.object as { stringData?: object }).stringData ?? {})).filter((k) => /\.conf$/.test(k));
    const oslo = files.filter((k) => !/^(swift|proxy-server|account-server|container-server|object-server|rabbitmq|glance-swift)\.conf$/.test(k));
    assert.deepEqual(oslo.sort(), Object.keys(OSLO_FILES).sort());
  });

  for (const [key, spec] of Object.entries(OSLO_FILES)) {
    it(key, () => {
      const text = secretData(spec.secret)[key];
      const checked = validate(write(`v-${key}`, text), spec.namespaces, spec.dynamicGroups?.groups);
      assert.equal(checked.status, 0, checked.errors);
      if (spec.dynamicGroups) {
        const dynamic = validate(write(`v-dyn-${key}`, groupsAs(text, spec.dynamicGroups.groups, "glance_store")), spec.dynamicGroups.namespaces);
        assert.equal(dynamic.status, 0, dynamic.errors);
      }
    });
  }

  it("a misspelled option fails the check (it would be ignored silently by keystone)", () => {
    const text = secretData("keystone-config")["keystone.conf"].replace("max_active_keys", "max_activ_keys");
    const checked = validate(write("misspelled.conf", text), OSLO_FILES["keystone.conf"].namespaces);
    assert.notEqual(checked.status, 0);
    assert.match(checked.errors, /fernet_tokens\/max_activ_keys is not part of the sample config/);
  });
});
