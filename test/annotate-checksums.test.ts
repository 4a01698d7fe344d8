// A pod template carries the checksum of the config it mounts or reads: a change to that config
// rolls the workload out, a change elsewhere does not, and the checksum tells nothing of a secret.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { CHECKSUM_ANNOTATION, configReadBy } from "../src/stages/annotate-checksums";
import { renderInMemory, TEST_SCHEMA } from "./helpers";

const schema = { ...TEST_SCHEMA, properties: { ...TEST_SCHEMA.properties, setting: { type: "string", default: "a" } } };

const pod = (name: string, volume: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: c
          image: example/c:1
          resources:
            requests:
              cpu: 10m
              memory: 10Mi
${volume}`;

const templates = {
  "config.yaml.hbs": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  setting: {{setting}}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: {{password}}\n",
  "reads-config.yaml.hbs": pod("reads-config", "      volumes:\n        - name: v\n          configMap:\n            name: settings\n"),
  "reads-secret.yaml.hbs": pod("reads-secret", "          env:\n            - name: P\n              valueFrom:\n                secretKeyRef:\n                  name: creds\n                  key: password\n"),
  "reads-nothing.yaml.hbs": pod("reads-nothing", ""),
};

function checksums(params: Record<string, unknown>): Record<string, string | undefined> {
  const result = renderInMemory({ templates, params, schema });
  return Object.fromEntries(
    result.manifests.filter((m) => m.object.kind === "Deployment").map((m) => [m.object.metadata.name, (m.object.spec as any).template.metadata.annotations?.[CHECKSUM_ANNOTATION]]),
  );
}

describe("annotate-checksums", () => {
  const base = { name: "x", password: "p1", setting: "a" };

  it("a change to a ConfigMap a pod mounts changes its checksum only", () => {
    const before = checksums(base);
    const after = checksums({ ...base, setting: "b" });
    assert.notEqual(after["reads-config"], before["reads-config"]);
    assert.equal(after["reads-secret"], before["reads-secret"]);
    assert.equal(before["reads-nothing"], undefined);
    assert.deepEqual(checksums(base), before, "deterministic");
  });

  it("a change to a Secret a pod reads changes its checksum", () => {
    assert.notEqual(checksums({ ...base, password: "p2" })["reads-secret"], checksums(base)["reads-secret"]);
  });

  it("the checksum is keyed: a plain hash of the Secret's data does not match it", () => {
    const sum = checksums(base)["reads-secret"]!;
    const plain = createHash("sha256").update(JSON.stringify([["Secret/creds", null, { password: "p1" }, null]])).digest("hex");
    assert.match(sum, /^[0-9a-f]{64}$/);
    assert.notEqual(sum, plain);
  });

  it("finds every way a pod reads config: volumes, projected volumes, env and envFrom of every container", () => {
    const spec = {
      volumes: [{ secret: { secretName: "s1" } }, { configMap: { name: "c1" } }, { projected: { sources: [{ secret: { name: "s2" } }, { configMap: { name: "c2" } }] } }],
      initContainers: [{ envFrom: [{ secretRef: { name: "s3" } }] }],
      containers: [{ env: [{ valueFrom: { configMapKeyRef: { name: "c3" } } }], envFrom: [{ configMapRef: { name: "c4" } }] }],
    };
    assert.deepEqual(configReadBy(spec), ["ConfigMap/c1", "ConfigMap/c2", "ConfigMap/c3", "ConfigMap/c4", "Secret/s1", "Secret/s2", "Secret/s3"]);
  });
});
