// A Secret is written as the API server stores it (data, base64), so applying it again changes nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeSecretData } from "../src/stages/encode-secret-data";
import type { KubeObject, RenderedObject } from "../src/types";

const rendered = (object: Record<string, unknown>): RenderedObject => ({ object: object as unknown as KubeObject, template: "t.yaml.hbs", source: "kubernetes-in/t.yaml.hbs", document: 1 });
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const meta = { name: "s" };

describe("encode-secret-data", () => {
  const cases: { name: string; input: Record<string, unknown>; expected: Record<string, unknown> }[] = [
    {
      name: "stringData becomes data, its text as UTF-8 in base64, keys sorted",
      input: { apiVersion: "v1", kind: "Secret", metadata: meta, type: "Opaque", stringData: { z: "a $b %c\n", a: "é€ 🔑" } },
      expected: { apiVersion: "v1", kind: "Secret", metadata: meta, type: "Opaque", data: { a: b64("é€ 🔑"), z: b64("a $b %c\n") } },
    },
    {
      name: "stringData wins a key that data names too, as on the server; data's other keys stay",
      input: { apiVersion: "v1", kind: "Secret", metadata: meta, data: { k: b64("old"), d: b64("kept") }, stringData: { k: "new" } },
      expected: { apiVersion: "v1", kind: "Secret", metadata: meta, data: { d: b64("kept"), k: b64("new") } },
    },
    {
      name: "an empty stringData is dropped, as the server drops an empty map",
      input: { apiVersion: "v1", kind: "Secret", metadata: meta, stringData: {} },
      expected: { apiVersion: "v1", kind: "Secret", metadata: meta },
    },
    {
      name: "a Secret written with data stays as it is",
      input: { apiVersion: "v1", kind: "Secret", metadata: meta, data: { k: b64("v") } },
      expected: { apiVersion: "v1", kind: "Secret", metadata: meta, data: { k: b64("v") } },
    },
    {
      name: "a ConfigMap is not a Secret",
      input: { apiVersion: "v1", kind: "ConfigMap", metadata: meta, data: { k: "v" } },
      expected: { apiVersion: "v1", kind: "ConfigMap", metadata: meta, data: { k: "v" } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(encodeSecretData([rendered(c.input)])[0].object, c.expected);
    });
  }
});
