// Every object of the shipped set is written in the form the API server stores it (defaults
// aside), so that a second `kubectl apply` of the same render patches nothing: kubectl compares
// what it sends with the live object, and whatever the server folded, dropped or rewrote comes
// back as a difference at every apply ("configured"; drift for Argo CD and Flux).
// What the server changes, from its Go types (k8s.io/api, k8s.io/apimachinery):
// - a Secret's stringData is folded into data and never stored;
// - a field tagged `omitempty` is dropped when it is empty: "", [], a map of no keys, null
//   (an object field, a pointer in Go, stays as {}; a map's own values, "" included, stay);
// - a resource.Quantity is stored as a string in its canonical form (1000m → 1, 0.5 → 500m,
//   1024Mi → 1Gi, a YAML number 1 → "1").
// Limits: the field types come from src/kube-fields.json (kubernetes-models); which leaves are
// quantities is listed here by field name, and every string field is taken as omitempty (the
// required ones, which are not, are refused by the server anyway when empty).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import KUBE_FIELDS from "../src/kube-fields.json";
import { readInputs } from "../src/read-inputs";
import { runPipeline } from "../src/pipeline";
import { REPO } from "./helpers";

const TYPES = KUBE_FIELDS.types as Record<string, Record<string, string | null>>;
const KINDS = KUBE_FIELDS.kinds as Record<string, string>;
/** Maps whose values are quantities, and leaf fields that are one. */
const QUANTITY_MAPS = new Set(["limits", "requests", "overhead", "hard", "capacity", "allocatable"]);
const QUANTITY_FIELDS = new Set(["sizeLimit", "divisor"]);

const SI: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

/** A quantity in the canonical form the server writes it in (resource.Quantity's CanonicalizeBytes), or undefined if it is not one. */
export function canonicalQuantity(text: string): string | undefined {
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, sign, number, suffix = "", exponent] = m;
  const [whole, fraction = ""] = number.split(".");
  const digits = BigInt(`${whole}${fraction}` || "0");
  // The value in nano-units, rounded up as the server rounds what is finer than a nano.
  let scale = -fraction.length + 9 + (exponent !== undefined ? Number(exponent) : (SI[suffix] ?? 0));
  let nano = digits * (BINARY[suffix] ? 1024n ** BigInt(BINARY[suffix]) : 1n);
  if (scale >= 0) nano *= 10n ** BigInt(scale);
  else {
    const d = 10n ** BigInt(-scale);
    nano = (nano + d - 1n) / d;
    scale = 0;
  }
  if (nano === 0n) return "0";
  const minus = sign === "-" ? "-" : "";
  if (BINARY[suffix] && nano % 10n ** 9n === 0n) {
    let bytes = nano / 10n ** 9n;
    let k = 0;
    while (k < 6 && bytes % 1024n === 0n) {
      bytes /= 1024n;
      k++;
    }
    return `${minus}${bytes}${["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]}`;
  }
  let e = 18;
  while (nano % 10n ** BigInt(e + 9) !== 0n) e -= 3;
  const mantissa = nano / 10n ** BigInt(e + 9);
  const unit = exponent !== undefined ? (e === 0 ? "" : `e${e}`) : Object.keys(SI).find((s) => SI[s] === e)!;
  return `${minus}${mantissa}${unit}`;
}

/** Where and how the server would store an object differently from how it is written. */
export function storedFormDifferences(object: Record<string, unknown>): string[] {
  const found: string[] = [];
  const type = KINDS[`${object.apiVersion}/${object.kind}`];
  if (object.kind === "Secret" && object.stringData !== undefined) found.push("/stringData: folded into data by the server; write data (base64)");
  const walk = (v: unknown, typeName: string | null, kind: "object" | "map" | "list" | "leaf", at: string, quantity: boolean): void => {
    if (v === null) return void found.push(`${at}: null is dropped`);
    if (quantity) {
      const canonical = typeof v === "string" ? canonicalQuantity(v) : undefined;
      if (typeof v !== "string") found.push(`${at}: a quantity is stored as a string: write "${canonicalQuantity(String(v)) ?? v}"`);
      else if (canonical !== undefined && canonical !== v) found.push(`${at}: the quantity ${v} is stored as ${canonical}`);
      return;
    }
    if (kind === "map") {
      if (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) return void found.push(`${at}: an empty map is dropped`);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) return void found.push(`${at}: an empty list is dropped`);
      const element = typeName?.startsWith("[]") ? typeName.slice(2) : null;
      v.forEach((x, i) => walk(x, element, element ? "object" : "leaf", `${at}/${i}`, false));
      return;
    }
    if (v === "") return void found.push(`${at}: an empty string is dropped`);
    if (kind !== "object" || !typeName || typeof v !== "object") return;
    const fields = TYPES[typeName] ?? {};
    for (const [name, x] of Object.entries(v as Record<string, unknown>)) {
      const t = fields[name] ?? null;
      const here = `${at}/${name}`;
      if (QUANTITY_MAPS.has(name) && t === "{}") {
        if (x && typeof x === "object" && Object.keys(x).length === 0) found.push(`${here}: an empty map is dropped`);
        else for (const [k, q] of Object.entries((x ?? {}) as Record<string, unknown>)) walk(q, null, "leaf", `${here}/${k}`, true);
      } else walk(x, t, t === "{}" ? "map" : t?.startsWith("[]") ? "list" : t ? "object" : "leaf", here, QUANTITY_FIELDS.has(name));
    }
  };
  walk(object, type ?? null, "object", "", false);
  return found;
}

describe("stored form: a second apply changes nothing", () => {
  const cases: { name: string; object: Record<string, unknown>; found: RegExp[] }[] = [
    { name: "a Secret with stringData", object: { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { a: "b" } }, found: [/^\/stringData: folded/] },
    {
      name: "an env var with an empty value, an empty args list, empty annotations, a null",
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "d", annotations: {}, labels: { keep: "" } },
        spec: { template: { spec: { nodeSelector: null, containers: [{ name: "c", args: [], env: [{ name: "E", value: "" }], securityContext: {} }] } } },
      },
      found: [/^\/metadata\/annotations: an empty map/, /containers\/0\/args: an empty list/, /containers\/0\/env\/0\/value: an empty string/, /nodeSelector: null/],
    },
    {
      name: "quantities not in canonical form, or not strings",
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p" },
        spec: { containers: [{ name: "c", resources: { requests: { cpu: "1000m", memory: "1024Mi" }, limits: { cpu: 1, memory: "1536Mi" } } }], volumes: [{ name: "v", emptyDir: { sizeLimit: "0.5Gi" } }] },
      },
      found: [/requests\/cpu: the quantity 1000m is stored as 1$/, /requests\/memory: the quantity 1024Mi is stored as 1Gi$/, /limits\/cpu: a quantity is stored as a string: write "1"/, /sizeLimit: the quantity 0.5Gi is stored as 512Mi$/],
    },
    {
      name: "what the server keeps: {} for an object, \"\" as a map's value, canonical quantities",
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", labels: { a: "" } },
        spec: { containers: [{ name: "c", resources: { requests: { cpu: "1500m", memory: "1536Mi" } } }], volumes: [{ name: "v", emptyDir: {} }] },
      },
      found: [],
    },
  ];
  for (const c of cases) {
    it(`finds what the server changes: ${c.name}`, () => {
      const found = storedFormDifferences(c.object);
      assert.equal(found.length, c.found.length, found.join("\n"));
      c.found.forEach((re, i) => assert.ok(found.some((f) => re.test(f)), `${re} in:\n${found.join("\n")} (${i})`));
    });
  }

  const quantities: [string, string][] = [["1000m", "1"], ["0.5", "500m"], ["100m", "100m"], ["1.5", "1500m"], ["1024Mi", "1Gi"], ["0.5Gi", "512Mi"], ["1536Mi", "1536Mi"], ["1e3", "1e3"], ["1000e0", "1e3"], ["2000k", "2M"], ["0.1n", "1n"], ["0", "0"], ["10Gi", "10Gi"]];
  for (const [written, stored] of quantities) it(`the quantity ${written} is stored as ${stored}`, () => assert.equal(canonicalQuantity(written), stored));

  it("every object of the shipped set, rendered from params/example.json, is written as the server stores it", () => {
    const inputs = readInputs({ params: ["params/example.json"] }, REPO);
    const result = runPipeline({ ...inputs, sets: [], outDir: "out", secretsDir: "secrets", inlineSecrets: false });
    assert.ok(result.manifests.some((m) => m.object.kind === "Secret"), "the set has Secrets");
    const found = result.manifests.flatMap((m) => storedFormDifferences(m.object as unknown as Record<string, unknown>).map((f) => `${m.fileName}: ${f}`));
    assert.deepEqual(found, []);
  });
});
