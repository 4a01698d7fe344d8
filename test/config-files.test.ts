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
  neutron_admin_password: HOSTILE,
  cinder_admin_password: HOSTILE,
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

/** A transport URL's hosts as oslo.messaging parses it (the password percent-decoded). */
const READ_TRANSPORT_URL = `
import json, sys
from oslo_config import cfg
import oslo_messaging
url = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), json.load(sys.stdin))
print(json.dumps([{"username": h.username, "password": h.password, "hostname": h.hostname, "port": h.port} for h in url.hosts]))
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

  it("neutron.conf, ml2_conf.ini and cinder.conf, read by oslo.config; the transport URL's password as oslo.messaging reads it", () => {
    const neutron = write("neutron.conf", secretData("neutron-config")["neutron.conf"]);
    const cinder = write("cinder.conf", secretData("cinder-config")["cinder.conf"]);
    const got = python(READ_OSLO, [
      [neutron, "keystone_authtoken", "password"],
      [neutron, "nova", "password"],
      [cinder, "keystone_authtoken", "password"],
      [cinder, "DEFAULT", "backup_swift_key"],
    ]);
    assert.deepEqual(got, [HOSTILE, HOSTILE, HOSTILE, HOSTILE]);
    const [transport] = python(READ_OSLO, [[neutron, "DEFAULT", "transport_url"]]) as string[];
    const [cinderTransport] = python(READ_OSLO, [[cinder, "DEFAULT", "transport_url"]]) as string[];
    assert.equal(cinderTransport, transport);
    const parsed = python(READ_TRANSPORT_URL, transport);
    assert.deepEqual(parsed, [{ username: secretData("rabbitmq").user, password: HOSTILE, hostname: "rabbitmq", port: 5672 }]);
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
// Groups named at run time (glance's backends) are checked against the store's options; groups
// that load a keystoneauth plugin (neutron's [nova]) against the group's own options and the plugin's.
const OSLO_FILES: Record<string, { secret: string; namespaces: string[]; dynamicGroups?: { groups: string[]; namespaces: string[] }; authGroups?: string[] }> = {
  "authtoken.conf": { secret: "swift-config", namespaces: ["keystonemiddleware.auth_token"] },
  "keystone.conf": { secret: "keystone-config", namespaces: ["keystone", "oslo.cache", "oslo.log", "oslo.db", "oslo.policy", "oslo.messaging", "oslo.middleware", "osprofiler"] },
  "glance-api.conf": {
    secret: "glance-config",
    namespaces: ["glance.api", "glance.store", "glance.multi_store", "oslo.concurrency", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware.cors", "oslo.middleware.http_proxy_to_wsgi", "oslo.policy", "keystonemiddleware.auth_token", "osprofiler", "oslo.limit"],
    dynamicGroups: { groups: ["swift", "os_glance_staging_store", "os_glance_tasks_store"], namespaces: ["glance.store"] },
  },
  "neutron.conf": {
    secret: "neutron-config",
    namespaces: ["neutron", "neutron.db", "neutron.extensions", "oslo.concurrency", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware", "oslo.policy", "oslo.service.wsgi", "keystonemiddleware.auth_token"],
    authGroups: ["nova"],
  },
  "ml2_conf.ini": { secret: "neutron-config", namespaces: ["neutron.ml2"] },
  "cinder.conf": { secret: "cinder-config", namespaces: ["cinder", "oslo.concurrency", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware", "oslo.policy", "keystonemiddleware.auth_token"] },
};

/**
 * The options of a group that loads a keystoneauth plugin which the file names but the group's
 * own namespaces do not list: the group's options from the namespaces (read from their
 * `oslo.config.opts` entry points, as oslo-config-validator reads them) and the plugin's.
 */
const UNKNOWN_AUTH_OPTIONS = `
import configparser, json, sys
from importlib.metadata import entry_points
from keystoneauth1 import loading
req = json.load(sys.stdin)
ini = configparser.RawConfigParser(strict=False)
ini.read(req["file"], encoding="utf-8")
known = {o.dest for o in loading.get_auth_common_conf_options()}
known |= {o.dest for o in loading.get_auth_plugin_conf_options(ini.get(req["group"], "auth_type"))}
for ep in entry_points(group="oslo.config.opts"):
    if ep.name in req["namespaces"]:
        for group, opts in ep.load()():
            if (getattr(group, "name", group) or "DEFAULT") == req["group"]:
                known |= {o.dest for o in opts}
print(json.dumps(sorted(set(ini.options(req["group"])) - known - set(ini.defaults()))))
`;

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
    const files = result.manifests.flatMap((m) => Object.keys((m.object as { stringData?: object }).stringData ?? {})).filter((k) => /\.(conf|ini)$/.test(k));
    const oslo = files.filter((k) => !/^(swift|proxy-server|account-server|container-server|object-server|rabbitmq|glance-swift)\.conf$|-uwsgi\.ini$/.test(k));
    assert.deepEqual(oslo.sort(), Object.keys(OSLO_FILES).sort());
  });

  for (const [key, spec] of Object.entries(OSLO_FILES)) {
    it(key, () => {
      const text = secretData(spec.secret)[key];
      const file = write(`v-${key}`, text);
      const checked = validate(file, spec.namespaces, [...(spec.dynamicGroups?.groups ?? []), ...(spec.authGroups ?? [])]);
      assert.equal(checked.status, 0, checked.errors);
      for (const group of spec.authGroups ?? []) assert.deepEqual(python(UNKNOWN_AUTH_OPTIONS, { file, group, namespaces: spec.namespaces }), [], `[${group}] of ${key}`);
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

  it("a misspelled option of a keystoneauth group fails the check (neutron would not authenticate to nova)", () => {
    const text = secretData("neutron-config")["neutron.conf"].replace(/(\[nova\][^[]*)user_domain_name/, "$1user_domain_nam");
    assert.notEqual(text, secretData("neutron-config")["neutron.conf"]);
    const unknown = python(UNKNOWN_AUTH_OPTIONS, { file: write("misspelled-nova.conf", text), group: "nova", namespaces: OSLO_FILES["neutron.conf"].namespaces });
    assert.deepEqual(unknown, ["user_domain_nam"]);
  });
});
