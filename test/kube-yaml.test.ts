// How manifests are written: every string reads back as itself under YAML 1.1 (as Kubernetes reads
// YAML), and the one-character pre-check that spares most strings the full ambiguity test never
// changes its answer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { AMBIGUOUS_FORMS, dumpYaml, isAmbiguous } from "../src/kube-yaml";

const fullTest = (s: string): boolean => AMBIGUOUS_FORMS.some((re) => re.test(s));

describe("kube-yaml: the ambiguity pre-check", () => {
  it("agrees with the full test on every string of up to two printable ASCII characters", () => {
    const chars = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
    const strings = ["", ...chars, ...chars.flatMap((a) => chars.map((b) => a + b))];
    const disagree = strings.filter((s) => isAmbiguous(s) !== fullTest(s));
    assert.deepEqual(disagree, []);
  });

  it("agrees with the full test on arbitrary strings and on number-like ones", () => {
    const numberish = fc.string({ unit: fc.constantFrom(..."0123456789+-._:eExXoObB~<yYnNlLuU ".split("")), maxLength: 12 });
    fc.assert(fc.property(fc.oneof(fc.string(), numberish), (s) => isAmbiguous(s) === fullTest(s)), { numRuns: 20000 });
  });
});

describe("kube-yaml: written strings read back exactly", () => {
  const cases = ["e5", "E1", ":", "_", "_1", "12:30", "1_000", ".", "1.2.3", "0o17", "0x1F", "~", "", "no", "On", "y", "<<", "2026-01-01", "plain", "two\nlines", "blank at end \nof a line", "tab\t\nend"];
  for (const s of cases) {
    it(JSON.stringify(s), () => {
      const text = dumpYaml({ value: s, [s || "empty"]: [s] });
      assert.deepEqual(parse(text, { version: "1.1" }), { value: s, [s || "empty"]: [s] });
    });
  }
});
