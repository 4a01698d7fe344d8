// A pod template carries the checksum of the config it mounts or reads: a change to that config
// rolls the workload out, a change elsewhere does not, and the checksum tells nothing of a secret.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { CHECKSUM_ANNOTATION, configReadBy } from "../src/stages/annotate-checksums";
import { renderInMemory, TEST_SCHEMA } from "./helpers";
import type { ParamSchema } from "../src/types";

const schema: ParamSchema = {
  ...TEST_SCHEMA,
  properties: {
    ...TEST_SCHEMA.properties,
    setting: { type: "string", default: "a" },
    token: { type: "string", writeOnly: true, default: "t1" },
    checksum_key: { type: "string", writeOnly: true, default: "k1", "x-checksum-key": true },
  },
};

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
  "config.yaml.hbs":
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  setting: {{setting}}\n---\n" +
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: {{password}}\n---\n" +
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tokens\nstringData:\n  token: {{token}}\n",
  "reads-config.yaml.hbs": pod("reads-config", "      volumes:\n        - name: v\n          configMap:\n            name: settings\n"),
  "reads-secret.yaml.hbs": pod("reads-secret", "          env:\n            - name: P\n              valueFrom:\n                secretKeyRef:\n                  name: creds\n                  key: password\n"),
  "mounts-secret.yaml.hbs": pod("mounts-secret", "      volumes:\n        - name: v\n          projected:\n            sources:\n              - secret:\n                  name: creds\n"),
  "reads-tokens.yaml.hbs": pod("reads-tokens", "          envFrom:\n            - secretRef:\n                name: tokens\n"),
  "reads-nothing.yaml.hbs": pod("reads-nothing", ""),
};

function checksums(params: Record<string, unknown>, withSchema: ParamSchema = schema): Record<string, string | undefined> {
  const result = renderInMemory({ templates, params, schema: withSchema });
  return Object.fromEntries(
    result.manifests.filter((m) => m.object.kind === "Deployment").map((m) => [m.object.metadata.name, (m.object.spec as any).template.metadata.annotations?.[CHECKSUM_ANNOTATION]]),
  );
}

describe("annotate-checksums", () => {
  const base = { name: "x", password: "p1", setting: "a", token: "t1", checksum_key: "k1" };

  // Which workloads roll when one value changes: exactly the readers of the object it is in.
  const table: { change: Record<string, string>; rolls: string[] }[] = [
    { change: { setting: "b" }, rolls: ["reads-config"] },
    { change: { password: "p2" }, rolls: ["mounts-secret", "reads-secret"] },
    { change: { token: "t2" }, rolls: ["reads-tokens"] },
    { change: { checksum_key: "k2" }, rolls: ["mounts-secret", "reads-config", "reads-secret", "reads-tokens"] },
  ];
  for (const { change, rolls } of table) {
    it(`changing ${Object.keys(change).join(", ")} rolls ${rolls.join(", ")} and nothing else`, () => {
      const before = checksums(base);
      const after = checksums({ ...base, ...change });
      const changed = Object.keys(after).filter((n) => after[n] !== before[n]).sort();
      assert.deepEqual(changed, rolls);
      assert.equal(after["reads-nothing"], undefined);
    });
  }

  it("is deterministic", () => {
    assert.deepEqual(checksums(base), checksums(base));
  });

  it("without a parameter marked x-checksum-key, every secret keys it: a secret change rolls every reader", () => {
    const unmarked = { ...schema, properties: { ...schema.properties, checksum_key: { type: "string", writeOnly: true, default: "k1" } } };
    const before = checksums(base, unmarked);
    const after = checksums({ ...base, token: "t2" }, unmarked);
    assert.deepEqual(Object.keys(after).filter((n) => after[n] !== before[n]).sort(), ["mounts-secret", "reads-config", "reads-secret", "reads-tokens"]);
  });

  it("the checksum is keyed: a plain hash of the Secret's data does not match it", () => {
    const sum = checksums(base)["reads-secret"]!;
    const data = { password: Buffer.from("p1").toString("base64") };
    for (const plain of [
      createHash("sha256").update(JSON.stringify([["Secret/creds", data, null, null]])).digest("hex"),
      createHash("sha256").update(JSON.stringify([["Secret/creds", null, { password: "p1" }, null]])).digest("hex"),
    ])
      assert.notEqual(sum, plain);
    assert.match(sum, /^[0-9a-f]{64}$/);
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
