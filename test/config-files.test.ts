// The shipped set's config files, rendered with hostile secrets, read back by the services' own
// parsers (every value compared), and checked against the options each service really has.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runPipeline } from "../src/pipeline";
import { readInputs } from "../src/read-inputs";
import { REPO, secretText, tmpDir } from "./helpers";

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
  cinder_admin_password: HOSTILE,
};
const result = runPipeline({ ...inputs, paramsFiles: [{ path: "hostile.json", text: JSON.stringify(hostile) }], sets: [], outDir: "out", secretsDir: "secrets", inlineSecrets: false });
const secretData = (name: string): Record<string, string> => {
  const o = result.manifests.find((m) => m.object.kind === "Secret" && m.object.metadata.name === name);
  assert.ok(o, `Secret ${name}`);
  return secretText(o.object);
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
  // nova.conf's own namespace holds its [placement], [neutron], [glance], [cinder] and [service_user] options.
  "nova.conf": { secret: "nova-config", namespaces: ["nova.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.messaging", "oslo.concurrency", "oslo.db"] },
  "placement.conf": { secret: "placement-config", namespaces: ["placement.conf", "keystonemiddleware.auth_token", "oslo.log", "oslo.db", "oslo.concurrency"] },
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
    const files = result.manifests.flatMap((m) => Object.keys((m.object as { data?: object }).data ?? {})).filter((k) => /\.(conf|ini)$/.test(k));
    const oslo = files.filter((k) => !/^(swift|proxy-server|account-server|container-server|object-server|rabbitmq|glance-swift|rsyncd)\.conf$|-uwsgi\.ini$/.test(k));
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

// swift has no oslo-config-validator and no list of its options: it reads each with conf.get() in
// the code of the daemon or middleware. So each file is checked with swift's own code: every
// section is one swift reads (the app or filter of the pipeline, resolved by paste.deploy as swift
// loads it, or a daemon of /usr/bin/swift-<section>, whose section readconf finds), and every
// option is a name looked up (conf.get('x'), conf['x'], 'x' in conf) in the package of that app
// or daemon or in swift/common; swift.conf's storage policies are parsed by swift itself. Its
// limits: an option of a sibling daemon of the same package, or one swift/common reads for
// another purpose, passes; values are not checked.
const CHECK_SWIFT = `
import ast, json, os, re, sys
import swift
from paste.deploy import loadwsgi
from swift.common.utils import readconf
from swift.common.wsgi import loadcontext
from keystonemiddleware.auth_token import list_opts

ROOT = os.path.dirname(swift.__file__)
FACTORIES = {}
group = None
for line in open(os.path.join(os.path.dirname(ROOT), "swift-%s.egg-info" % swift.__version__, "entry_points.txt")):
    line = line.strip()
    if line.startswith("["):
        group = line[1:-1]
    elif "=" in line and group in ("paste.app_factory", "paste.filter_factory"):
        name, target = [x.strip() for x in line.split("=", 1)]
        FACTORIES[name] = target.split(":")[0]

def files_of(module):
    path = os.path.join(os.path.dirname(ROOT), *module.split("."))
    if os.path.isdir(path):
        return [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".py")]
    return [path + ".py"]

def package_of(module):
    return files_of(module.rsplit(".", 1)[0]) if not os.path.isdir(os.path.join(os.path.dirname(ROOT), *module.split("."))) else files_of(module)

def reads(paths):
    """Every option name swift's code looks up: conf.get('x'), conf['x'], 'x' in conf."""
    names = set()
    for p in paths:
        for n in ast.walk(ast.parse(open(p).read())):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("get", "pop", "setdefault") and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
                names.add(n.args[0].value)
            elif isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str):
                names.add(n.slice.value)
            elif isinstance(n, ast.Compare) and isinstance(n.left, ast.Constant) and isinstance(n.left.value, str) and any(isinstance(o, (ast.In, ast.NotIn)) for o in n.ops):
                names.add(n.left.value)
    return names

COMMON = reads([os.path.join(ROOT, "common", f) for f in os.listdir(os.path.join(ROOT, "common")) if f.endswith(".py")] + files_of("swift.common.ring"))

def daemon_module(section):
    """The module of the daemon that reads a section: the one its /usr/bin/swift-<section> script runs."""
    script = "/usr/bin/swift-" + section
    if not os.path.exists(script):
        return None
    found = [x for x in re.findall(r"from (swift\\.[\\w.]+) import (\\w+)", open(script).read()) if x[0] != "swift.common.daemon" and "run_daemon(%s" % x[1] in open(script).read()]
    return found[0][0] if found else None

AUTHTOKEN = {o.dest for _, opts in list_opts() for o in opts} | {"paste.filter_factory", "oslo_config_project", "oslo_config_file"}

def check(path):
    problems = []
    parser = loadwsgi.NicerConfigParser(path)
    parser.optionxform = str
    parser.read(path)
    raw = {s: [k for k in parser._sections[s]] for s in parser.sections()}
    pipeline = parser.get("pipeline:main", "pipeline", raw=True).split() if parser.has_section("pipeline:main") else []
    packages = []
    for section, options in raw.items():
        allowed = None
        if section == "pipeline:main":
            allowed = {"pipeline"}
        elif section.startswith(("app:", "filter:")):
            name = section.split(":", 1)[1]
            if name not in pipeline:
                problems.append("[%s] is not in the pipeline: paste.deploy never loads it" % section)
            use = parser._sections[section].get("use", "")
            if use.startswith("egg:swift#") and use[10:] in FACTORIES:
                module = FACTORIES[use[10:]]
                files = package_of(module) if section.startswith("app:") else files_of(module)
                packages += files
                allowed = COMMON | reads(files) | {"use"}
            elif parser._sections[section].get("paste.filter_factory") == "keystonemiddleware.auth_token:filter_factory":
                allowed = AUTHTOKEN
            else:
                problems.append("[%s]: use = %s is not a swift app or filter" % (section, use))
                continue
        else:
            module = daemon_module(section)
            if module is None:
                problems.append("[%s] is no section swift reads (no swift daemon of that name)" % section)
                continue
            files = package_of(module)
            packages += files
            allowed = COMMON | reads(files)
            readconf(path, section)
        for option in options:
            if option not in allowed:
                problems.append("[%s] %s is not an option swift reads there" % (section, option))
    for option in parser.defaults():
        if option not in COMMON | reads(packages):
            problems.append("[DEFAULT] %s is not an option swift reads" % option)
    if pipeline:
        # paste.deploy as swift loads it: every filter and the app of the pipeline resolved to its factory.
        try:
            loadcontext(loadwsgi.APP, path)
        except Exception as e:
            problems.append("paste.deploy cannot load it: %s" % str(e).split("\\n")[0])
    return problems

def check_swift_conf(path):
    """swift.conf as swift reads it: the hash section, and each storage policy parsed by swift itself."""
    from configparser import ConfigParser
    from swift.common.storage_policy import parse_storage_policies
    from swift.common import constraints
    conf = ConfigParser()
    conf.read(path)
    problems = []
    for section in conf.sections():
        if section == "swift-hash":
            problems += ["[swift-hash] %s is not an option swift reads" % o for o in conf.options(section) if o not in ("swift_hash_path_prefix", "swift_hash_path_suffix")]
        elif section == "swift-constraints":
            problems += ["[swift-constraints] %s is no constraint" % o for o in conf.options(section) if o.upper() not in dir(constraints)]
        elif not section.startswith("storage-policy:"):
            problems.append("[%s] is no section swift reads in swift.conf" % section)
    try:
        parse_storage_policies(conf)
    except Exception as e:
        problems.append(str(e))
    return problems

print(json.dumps({f: check_swift_conf(f) if os.path.basename(f).endswith("swift.conf") else check(f) for f in json.load(sys.stdin)}))
`;

const SWIFT_FILES = ["swift.conf", "proxy-server.conf", "account-server.conf", "container-server.conf", "object-server.conf"];

function checkSwift(files: Record<string, string>): Record<string, string[]> {
  const paths = Object.entries(files).map(([name, text]) => write(name, text));
  const checked = python(CHECK_SWIFT, paths) as Record<string, string[]>;
  return Object.fromEntries(Object.entries(checked).map(([file, problems]) => [path.basename(file), problems]));
}

describe("shipped config files: every section and option of swift's is one swift reads (swift's own loaders)", () => {
  it("every swift config file of the set is checked", () => {
    const swift = Object.keys(secretData("swift-config")).filter((k) => k !== "authtoken.conf" && k !== "rsyncd.conf");
    assert.deepEqual(swift.sort(), [...SWIFT_FILES].sort());
  });

  it("swift.conf, the proxy's and each storage server's file, with their daemons' sections", () => {
    const files = Object.fromEntries(SWIFT_FILES.map((f) => [f, secretData("swift-config")[f]]));
    assert.deepEqual(checkSwift(files), Object.fromEntries(SWIFT_FILES.map((f) => [f, []])));
  });

  const mistakes: { file: string; from: RegExp; to: string; problem: RegExp }[] = [
    { file: "object-server.conf", from: /^rsync_module/m, to: "rsync_modul", problem: /^\[object-replicator\] rsync_modul is not an option swift reads there$/ },
    { file: "object-server.conf", from: /^\[object-updater\]/m, to: "[object-updatr]", problem: /^\[object-updatr\] is no section swift reads/ },
    { file: "container-server.conf", from: /^bind_port/m, to: "bind_prt", problem: /^\[DEFAULT\] bind_prt is not an option swift reads$/ },
    { file: "proxy-server.conf", from: /^operator_roles/m, to: "operator_role", problem: /^\[filter:keystoneauth\] operator_role is not an option/ },
    { file: "proxy-server.conf", from: /^oslo_config_file/m, to: "oslo_config_fil", problem: /^\[filter:authtoken\] oslo_config_fil is not an option/ },
    { file: "account-server.conf", from: /egg:swift#healthcheck/, to: "egg:swift#healthchek", problem: /paste\.deploy cannot load it: Entry point 'healthchek' not found/ },
    { file: "swift.conf", from: /^default = yes/m, to: "defualt = yes", problem: /Invalid option 'defualt' in storage-policy section/ },
  ];
  for (const m of mistakes) {
    it(`fails a mistake swift would ignore or trip on: ${m.to} in ${m.file}`, () => {
      const text = secretData("swift-config")[m.file];
      assert.match(text, m.from);
      const problems = checkSwift({ [`bad-${m.file}`]: text.replace(m.from, m.to) })[`bad-${m.file}`];
      assert.ok(problems.some((p) => m.problem.test(p)), problems.join("\n"));
    });
  }
});
