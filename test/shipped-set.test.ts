// The shipped OpenStack set: every object, port and parameter of the seed, on today's APIs.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runPipeline } from "../src/pipeline";
import { readInputs } from "../src/read-inputs";
import type { KubeObject } from "../src/types";
import { REPO, secretText } from "./helpers";

const inputs = readInputs({ params: ["params/example.json"] }, REPO);
const result = runPipeline({ ...inputs, sets: [], outDir: "out", secretsDir: "secrets", inlineSecrets: false });
const all = result.manifests.map((m) => m.object as KubeObject & Record<string, any>);
/** By name; a job by the name its template gives it, before the spec hash. */
const get = (kind: string, name: string) => {
  const o = all.find((x) => x.kind === kind && (x.metadata.name === name || (kind === "Job" && new RegExp(`^${name}-[0-9a-f]{8}$`).test(x.metadata.name))));
  assert.ok(o, `${kind} ${name} is rendered`);
  return o;
};
const podSpec = (o: Record<string, any>) => o.spec.template.spec;

describe("shipped set: every object of the seed, carried to Zed", () => {
  // kind, name, replicas, ports (name: number), command (the Debian package's paths)
  const workloads: [string, string, number, Record<string, number>, string[] | null][] = [
    ["Deployment", "docker-registry", 3, { registry: 5000 }, ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]],
    ["Deployment", "rabbitmq", 1, { amqp: 5672 }, ["/usr/lib/rabbitmq/bin/rabbitmq-server"]],
    ["Deployment", "memcached", 1, { memcache: 11211 }, null],
    ["Deployment", "keystone", 3, { public: 5000 }, ["uwsgi", "--ini", "/etc/keystone/keystone-uwsgi.ini"]],
    ["Deployment", "glance-api", 3, { api: 9292 }, ["/usr/bin/glance-api", "--config-file=/etc/glance/glance-api.conf"]],
    ["Deployment", "swift-proxy", 3, { proxy: 8080 }, ["/usr/bin/swift-proxy-server", "/etc/swift/proxy-server.conf", "--verbose"]],
    ["StatefulSet", "swift-storage", 3, { account: 6202 }, ["/usr/bin/swift-account-server", "/etc/swift/account-server.conf", "--verbose"]],
    ["Deployment", "client", 1, {}, null],
  ];
  for (const [kind, name, replicas, ports, command] of workloads) {
    it(`${kind} ${name}: ${replicas} replicas, ports ${JSON.stringify(ports)}`, () => {
      const d = get(kind, name);
      assert.equal(d.apiVersion, "apps/v1");
      assert.equal(d.spec.replicas, replicas);
      const c = podSpec(d).containers[0];
      assert.deepEqual(Object.fromEntries((c.ports ?? []).map((p: any) => [p.name, p.containerPort])), ports);
      if (command) assert.deepEqual(c.command, command);
    });
  }

  const services: [string, number, string, string][] = [
    ["docker-registry", 4999, "registry", "Deployment/docker-registry"],
    ["rabbitmq", 5672, "amqp", "Deployment/rabbitmq"],
    ["memcached", 11211, "memcache", "Deployment/memcached"],
    ["keystone", 5000, "public", "Deployment/keystone"],
    ["glance-api", 9292, "api", "Deployment/glance-api"],
    ["swift-proxy", 6004, "proxy", "Deployment/swift-proxy"],
    ["swift-storage", 6200, "object", "StatefulSet/swift-storage"],
  ];
  for (const [name, port, target, workload] of services) {
    it(`Service ${name}: port ${port} → ${target}, selecting exactly the pods of ${workload}`, () => {
      const s = get("Service", name);
      assert.equal(s.spec.ports[0].port, port);
      assert.equal(s.spec.ports[0].targetPort, target);
      const selected = all.filter((o) => o.spec?.template?.metadata?.labels && o.kind !== "Job" && Object.entries(s.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
      assert.deepEqual(selected.map((o) => `${o.kind}/${o.metadata.name}`), [workload]);
    });
  }

  // job, phase, command
  const jobs: [string, string, string[]][] = [
    ["keystone-db-sync", "jobs", ["keystone-manage", "--config-file=/etc/keystone/keystone.conf", "db_sync"]],
    ["keystone-bootstrap", "bootstrap", ["keystone-manage", "--config-file=/etc/keystone/keystone.conf", "bootstrap"]],
    ["glance-db-sync", "jobs", ["/usr/bin/glance-manage", "--config-file=/etc/glance/glance-api.conf", "db_sync"]],
    ["catalog-setup", "service-setup", ["/usr/bin/python3", "-c"]],
  ];
  for (const [name, phase, command] of jobs) {
    it(`Job ${name} runs in phase ${phase}, and stays once finished (no TTL: apply.sh and Flux would create it again)`, () => {
      const j = get("Job", name);
      assert.equal(j.apiVersion, "batch/v1");
      assert.equal(podSpec(j).restartPolicy, "OnFailure");
      assert.equal(j.spec.ttlSecondsAfterFinished, undefined);
      assert.deepEqual(podSpec(j).containers[0].command, command);
      assert.equal(result.manifests.find((m) => m.object === j)!.phase.name, phase);
    });
  }

  it("keystone's config files and key repositories are mounted where the package reads them", () => {
    const mounts = podSpec(get("Deployment", "keystone")).containers[0].volumeMounts.map((m: any) => `${m.name}:${m.subPath ?? ""}→${m.mountPath}`);
    assert.deepEqual(mounts, [
      "keystone-config:keystone.conf→/etc/keystone/keystone.conf",
      "keystone-config:keystone-uwsgi.ini→/etc/keystone/keystone-uwsgi.ini",
      "keystone-fernet-keys:→/etc/keystone/fernet-keys",
      "keystone-credential-keys:→/etc/keystone/credential-keys",
    ]);
    assert.deepEqual(Object.keys(secretText(get("Secret", "keystone-fernet-keys"))), ["0", "1", "2"]);
    assert.deepEqual(Object.keys(secretText(get("Secret", "keystone-credential-keys"))), ["0", "1"]);
  });

  it("swift's storage keeps its data on a volume claim per pod, and every swift pod builds the same rings", () => {
    const sts = get("StatefulSet", "swift-storage");
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, "data");
    const rings = (o: any) => podSpec(o).initContainers.find((c: any) => c.name === "swift-rings");
    assert.deepEqual(rings(sts), rings(get("Deployment", "swift-proxy")));
    assert.match(rings(sts).args[0], /rebalance --seed 1/);
    assert.deepEqual(podSpec(sts).containers.map((c: any) => c.name), [
      "swift-account-server", "swift-container-server", "swift-object-server",
      "swift-account-replicator", "swift-account-auditor",
      "swift-container-replicator", "swift-container-updater", "swift-container-auditor",
      "swift-object-replicator", "swift-object-updater", "swift-object-auditor",
      "swift-rsync",
    ]);
  });

  it("each of swift's storage daemons runs with the server file that holds its section, and the replicators push to the pods' rsync modules", () => {
    const config = secretText(get("Secret", "swift-config"));
    for (const c of podSpec(get("StatefulSet", "swift-storage")).containers.filter((x: any) => /-(replicator|updater|auditor)$/.test(x.name))) {
      const daemon = c.name.replace(/^swift-/, "");
      const file = `${daemon.split("-")[0]}-server.conf`;
      assert.deepEqual(c.command, [`/usr/bin/swift-${daemon}`, `/etc/swift/${file}`, "--verbose"]);
      assert.ok(c.volumeMounts.some((m: any) => m.mountPath === `/etc/swift/${file}` && m.subPath === file), `${c.name} mounts ${file}`);
      assert.match(config[file], new RegExp(`^\\[${daemon}\\]$`, "m"), `${file} has [${daemon}]`);
    }
    const modules = [...config["rsyncd.conf"].matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]);
    assert.deepEqual(modules, ["account", "container", "object"]);
    for (const m of modules) assert.match(config[`${m}-server.conf`], new RegExp(`^rsync_module = rsync://\\{replication_ip\\}:6203/${m}$`, "m"));
  });

  it("RabbitMQ's OpenStack user is never guest, and more than one broker is refused", () => {
    assert.notEqual(result.params.values.rabbitmq_user, "guest");
    assert.equal(inputs.schema.properties!.rabbitmq_replicas.maximum, 1);
    const definitions = JSON.parse(secretText(get("Secret", "rabbitmq-config"))["definitions.json"]);
    assert.deepEqual(definitions.users.map((u: any) => u.name), ["openstack"]);
  });

  it("every pod template that mounts or reads config carries its checksum", () => {
    for (const o of all.filter((x) => x.spec?.template?.spec && x.metadata.name !== "memcached")) {
      assert.match(o.spec.template.metadata.annotations?.["gen-manifests/config-checksum"] ?? "", /^[0-9a-f]{64}$/, `${o.kind} ${o.metadata.name}`);
    }
  });

  it("one Namespace, and every other object in it", () => {
    assert.equal(all.filter((o) => o.kind === "Namespace").length, 1);
    for (const o of all.filter((x) => x.kind !== "Namespace")) assert.equal(o.metadata.namespace, "openstack", `${o.kind} ${o.metadata.name}`);
  });
});

describe("shipped set: today's Kubernetes, with the seed's bugs fixed", () => {
  const pods = all.filter((o) => o.spec?.template?.spec).map((o) => ({ o, spec: podSpec(o) }));

  it("every object carries the four app.kubernetes.io labels", () => {
    for (const o of all.filter((x) => x.kind !== "Namespace")) {
      for (const l of ["name", "component", "part-of", "managed-by"]) assert.ok(o.metadata.labels?.[`app.kubernetes.io/${l}`], `${o.kind} ${o.metadata.name} has ${l}`);
      assert.equal(o.metadata.labels?.["app.kubernetes.io/managed-by"], "gen-manifests");
      assert.equal(o.metadata.labels?.["app.kubernetes.io/part-of"], "openstack");
    }
  });

  it("every container has resource requests, and every image a pinned tag", () => {
    for (const { o, spec } of pods) {
      for (const c of spec.containers) {
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${o.metadata.name}/${c.name} requests`);
        assert.match(c.image, /:[^/]+$/, `${c.image} has a tag`);
        assert.doesNotMatch(c.image, /:latest$/);
      }
    }
  });

  it("every server with a port has liveness and readiness probes on a port it declares", () => {
    for (const { o, spec } of pods.filter((p) => p.o.kind === "Deployment")) {
      for (const c of spec.containers.filter((x: any) => x.ports?.length)) {
        const names = c.ports.map((p: any) => p.name);
        for (const probe of ["livenessProbe", "readinessProbe"]) {
          const port = c[probe]?.tcpSocket?.port ?? c[probe]?.httpGet?.port;
          assert.ok(names.includes(port), `${o.metadata.name}/${c.name} ${probe} on ${port}`);
        }
      }
    }
  });

  it("no secret value in any Deployment or Job: secrets come from secretKeyRef", () => {
    const secretParams = [...result.params.secretNames].map((n) => result.params.values[n] as string).filter((v) => v !== "");
    for (const { o, spec } of pods) {
      const text = JSON.stringify(spec);
      for (const v of secretParams) assert.ok(!text.includes(v), `${o.kind} ${o.metadata.name} holds no secret`);
      for (const c of spec.containers) {
        for (const e of c.env ?? []) if (/PASSWORD|TOKEN|SECRET|KEY|DB_URI|HASH_PATH|STORE_USER$/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${o.metadata.name} ${e.name}`);
      }
    }
  });

  it("glance stores into the object store account of swift_user, its password only in the Secret", () => {
    const conf = secretText(get("Secret", "glance-config"))["glance-swift.conf"];
    assert.match(conf, new RegExp(`^user = ${result.params.values.swift_tenant_name}:${result.params.values.swift_user}$`, "m"));
    assert.match(conf, /^auth_version = 3$/m);
  });

  it("Services are applied before any pod that reads their environment variables, and jobs before servers", () => {
    const order = result.manifests.map((m) => m.object.kind);
    assert.ok(order.lastIndexOf("Service") < order.indexOf("Job"));
    // Only the jobs that need the APIs running come after them.
    const late = result.manifests.filter((m) => m.object.kind === "Job" && m.phase.name === "service-setup").length;
    assert.ok(order.slice(0, order.length - late).lastIndexOf("Job") < order.indexOf("Deployment"));
    assert.ok(order.lastIndexOf("Secret") < order.indexOf("Service"));
    assert.equal(order[0], "Namespace");
    for (const { spec } of pods) assert.notEqual(spec.enableServiceLinks, false);
  });

  it("every declared parameter is used by some template, or is an input of a derivation", () => {
    const text = fs.readdirSync(path.join(REPO, "kubernetes-in")).map((f) => fs.readFileSync(path.join(REPO, "kubernetes-in", f), "utf8")).join("\n");
    const viaHelper = ["docker_registry", "docker_image_prefix", "image_tag"];
    // The seed's admin token and keystone password: bootstrap replaced both, the names stay valid.
    const retired = ["keystone_admin_token", "keystone_admin_password"];
    for (const name of Object.keys(inputs.schema.properties ?? {})) {
      // The checksums' key is read by the pipeline (annotate-checksums), never by a template.
      const checksumKey = inputs.schema.properties?.[name]?.["x-checksum-key"] === true;
      if (viaHelper.includes(name) || retired.includes(name) || checksumKey || name === "swift_siteurl") continue;
      assert.ok(new RegExp(`\\b${name}\\b`).test(text), `${name} is used`);
    }
  });
});
