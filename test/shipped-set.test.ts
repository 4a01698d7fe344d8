// The shipped OpenStack set: every object, port and parameter of the seed, on today's APIs.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runPipeline } from "../src/pipeline";
import { readInputs } from "../src/read-inputs";
import type { KubeObject } from "../src/types";
import { REPO } from "./helpers";

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

describe("shipped set: every object of the seed", () => {
  // name, replicas, ports (name: number), command's first word
  const workloads: [string, number, Record<string, number>, string | null][] = [
    ["docker-registry", 3, { registry: 5000 }, null],
    ["rabbitmq", 1, { amqp: 5672, admin: 15672 }, null],
    ["keystone", 3, { public: 5000, admin: 35357 }, "keystone-all"],
    ["glance-api", 3, { api: 9292 }, "glance-api"],
    ["glance-registry", 3, { registry: 9191 }, "glance-registry"],
    ["nova-api", 3, { osapi: 8774, ec2: 8773, metadata: 8775 }, "nova-api"],
    ["nova-conductor", 3, {}, "nova-conductor"],
    ["nova-consoleauth", 3, {}, "nova-consoleauth"],
    ["nova-novncproxy", 3, { novncproxy: 6080 }, "nova-novncproxy"],
    ["neutron-server", 3, { osapi: 9696 }, "neutron-server"],
    ["cinder-api", 3, { osapi: 8776 }, "cinder-api"],
    ["swift-proxy", 3, { proxy: 80 }, "swift-proxy-server"],
    ["swift-account-server", 3, { account: 6002 }, "swift-account-server"],
    ["swift-container-server", 3, { container: 6001 }, "swift-container-server"],
    ["swift-object-server", 5, { object: 6000 }, "swift-object-server"],
    ["swift-object-auditor", 1, {}, "swift-object-auditor"],
    ["client", 1, {}, "sh"],
  ];
  for (const [name, replicas, ports, command] of workloads) {
    it(`Deployment ${name}: ${replicas} replicas, ports ${JSON.stringify(ports)}`, () => {
      const d = get("Deployment", name);
      assert.equal(d.apiVersion, "apps/v1");
      assert.equal(d.spec.replicas, replicas);
      const c = podSpec(d).containers[0];
      assert.deepEqual(Object.fromEntries((c.ports ?? []).map((p: any) => [p.name, p.containerPort])), ports);
      if (command) assert.equal(c.command[0], command);
    });
  }

  const services: [string, number, string, string][] = [
    ["docker-registry", 4999, "registry", "docker-registry"],
    ["rabbitmq", 5672, "amqp", "rabbitmq"],
    ["keystone", 5000, "public", "keystone"],
    ["glance-api", 9292, "api", "glance-api"],
    ["glance-registry", 9191, "registry", "glance-registry"],
    ["nova-api", 8774, "osapi", "nova-api"],
    ["nova-api-ec2", 8773, "ec2", "nova-api"],
    ["nova-api-metadata", 8775, "metadata", "nova-api"],
    ["nova-novncproxy", 6080, "novncproxy", "nova-novncproxy"],
    ["neutron", 9696, "osapi", "neutron-server"],
    ["cinder-api", 8776, "osapi", "cinder-api"],
    ["swift-proxy", 6004, "proxy", "swift-proxy"],
    ["swift-account", 6002, "account", "swift-account-server"],
    ["swift-container", 6001, "container", "swift-container-server"],
  ];
  for (const [name, port, target, workload] of services) {
    it(`Service ${name}: port ${port} → ${target}, selecting exactly the pods of ${workload}`, () => {
      const s = get("Service", name);
      assert.equal(s.spec.ports[0].port, port);
      assert.equal(s.spec.ports[0].targetPort, target);
      const selected = all.filter((o) => o.spec?.template?.metadata?.labels && Object.entries(s.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
      assert.deepEqual(selected.map((o) => `${o.kind}/${o.metadata.name}`), [`Deployment/${workload}`]);
    });
  }

  for (const svc of ["keystone", "glance", "nova", "neutron", "cinder"]) {
    it(`Job ${svc}-db-sync cleans up after itself`, () => {
      const j = get("Job", `${svc}-db-sync`);
      assert.equal(j.apiVersion, "batch/v1");
      assert.equal(podSpec(j).restartPolicy, "OnFailure");
      assert.equal(j.spec.ttlSecondsAfterFinished, 3600);
      assert.equal(typeof j.spec.backoffLimit, "number");
    });
  }

  it("the client's keep-alive loop runs under sh -c", () => {
    assert.deepEqual(podSpec(get("Deployment", "client")).containers[0].command.slice(0, 2), ["sh", "-c"]);
  });

  it("glance-api runs the scrubber beside it, sharing store, cache and lock", () => {
    const spec = podSpec(get("Deployment", "glance-api"));
    assert.deepEqual(spec.containers.map((c: any) => c.name), ["glance-api", "glance-scrubber"]);
    for (const c of spec.containers) assert.deepEqual(c.volumeMounts.map((m: any) => m.name), ["store", "cache", "lock"]);
    assert.deepEqual(spec.volumes.map((v: any) => Object.keys(v)), [["name", "emptyDir"], ["name", "emptyDir"], ["name", "emptyDir"]]);
  });

  it("swift-proxy has its memcached sidecar and the hostPorts of the ring", () => {
    const spec = podSpec(get("Deployment", "swift-proxy"));
    assert.deepEqual(spec.containers.map((c: any) => c.name), ["swift-proxy", "memcached"]);
    assert.equal(spec.containers[0].ports[0].hostPort, 6004);
    assert.equal(podSpec(get("Deployment", "swift-object-server")).containers[0].volumeMounts[0].mountPath, "/srv/node/data1");
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
    const secretParams = [...result.params.secretNames].map((n) => result.params.values[n] as string);
    for (const { o, spec } of pods) {
      const text = JSON.stringify(spec);
      for (const v of secretParams) assert.ok(!text.includes(v), `${o.kind} ${o.metadata.name} holds no secret`);
      for (const c of spec.containers) {
        for (const e of c.env ?? []) if (/PASSWORD|TOKEN|SECRET|KEY|DB_URI|HASH_PATH|STORE_USER$/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${o.metadata.name} ${e.name}`);
      }
    }
  });

  it("glance's store user keeps the seed's user:password form, built inside the Secret", () => {
    const s = get("Secret", "glance");
    assert.equal(s.stringData["swift-store-user"], `${result.params.values.swift_user}:${result.params.values.swift_password}`);
  });

  it("Services are applied before any pod that reads their environment variables, and jobs before servers", () => {
    const order = result.manifests.map((m) => m.object.kind);
    assert.ok(order.lastIndexOf("Service") < order.indexOf("Job"));
    assert.ok(order.lastIndexOf("Job") < order.indexOf("Deployment"));
    assert.ok(order.lastIndexOf("Secret") < order.indexOf("Service"));
    assert.equal(order[0], "Namespace");
    for (const { spec } of pods) assert.notEqual(spec.enableServiceLinks, false);
  });

  it("every declared parameter is used by some template, or is an input of a derivation", () => {
    const text = fs.readdirSync(path.join(REPO, "kubernetes-in")).map((f) => fs.readFileSync(path.join(REPO, "kubernetes-in", f), "utf8")).join("\n");
    const viaHelper = ["docker_registry", "docker_image_prefix", "image_tag"];
    for (const name of Object.keys(inputs.schema.properties ?? {})) {
      if (viaHelper.includes(name) || name === "swift_siteurl") continue;
      assert.ok(new RegExp(`\\b${name}\\b`).test(text), `${name} is used`);
    }
  });
});
