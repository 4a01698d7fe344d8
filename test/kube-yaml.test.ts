// How manifests are written: every string reads back as itself under YAML 1.1 (as Kubernetes reads
// YAML); the one-character pre-checks that spare most strings the full ambiguity tests never
// change their answer; and the emitter writes exactly js-yaml's bytes, since users diff `out/`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { emitYaml } from "../src/emit-yaml";
import { AMBIGUOUS_FORMS, dumpYaml, dumpYamlWithJsYaml, InexactInteger, isAmbiguous, KUBE_DUMP_SCHEMA, KUBE_SCALAR_RULES, loadKubeDocument, loadKubeDocuments, readsAsOther } from "../src/kube-yaml";
import { propertyRuns } from "./helpers";

const fullTest = (s: string): boolean => AMBIGUOUS_FORMS.some((re) => re.test(s));
const implicitTypes = (KUBE_DUMP_SCHEMA as unknown as { compiledImplicit: { resolve(s: string): boolean }[] }).compiledImplicit;
const readsAsOtherFull = (s: string): boolean => implicitTypes.some((t) => t.resolve(s));
const printableAscii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const upToTwoChars = ["", ...printableAscii, ...printableAscii.flatMap((a) => printableAscii.map((b) => a + b))];
const numberish = fc.string({ unit: fc.constantFrom(..."0123456789+-._:eExXoObB~<yYnNlLuUtTfFrRsS ".split("")), maxLength: 12 });

describe("kube-yaml: templates' output is read as kubectl reads it (yaml.v2)", () => {
  const cases: [string, unknown][] = [
    ...["true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].map((s): [string, unknown] => [s, true]),
    ...["false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF"].map((s): [string, unknown] => [s, false]),
    ["tRUE", "tRUE"], ["yES", "yES"], ['"true"', "true"], ["'no'", "no"],
    ["12", 12], ["0x1F", 31], ["1.5", 1.5], ["~", null], ["null", null], ["2026-01-01", "2026-01-01"],
    // Numbers as Go's ParseInt (base 0, underscores dropped), then ParseUint, then its float form.
    ["0644", 420], ["0_644", 420], ["-0644", -420], ["00", 0], ["08", 8], ["09.5", 9.5], ["1_000", 1000], ["1_", 1], ["_1", "_1"],
    ["0X1F", 31], ["-0x1F", -31], ["0o17", 15], ["0O17", 15], ["0b11", 3], ["-0b11", -3], ["0b2", "0b2"], ["0x", "0x"], ["0o", "0o"],
    ["-0", 0], ["+12", 12], ["1e3", 1000], ["1.", 1], ["1.5_0", 1.5], [".5", 0.5], ["+.5", 0.5], ["-.5", -0.5], [".5_0", ".5_0"],
    ["0xFFFFFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFFF"], ["99999999999999999999", 1e20], ["9007199254740992", 2 ** 53], ["9007199254740994", 2 ** 53 + 2],
    ["12:30", "12:30"], ["1.2.3", "1.2.3"],
    [".inf", Infinity], ["+.Inf", Infinity], ["-.INF", -Infinity], [".nan", NaN], [".Nan", ".Nan"], ["+.nan", "+.nan"],
    ["__proto__", "__proto__"], ["toString", "toString"], ["constructor", "constructor"],
  ];
  for (const [text, value] of cases) {
    it(`${text} reads as ${JSON.stringify(value)}`, () => {
      assert.deepEqual(loadKubeDocument(`v: ${text}\n`), { v: value });
    });
  }
});

describe("kube-yaml: an integer a number cannot hold is refused where it stands, not written back as another", () => {
  // [text, line, column (from 0), what the manifest would have had]: Go reads each exactly (int64 or uint64).
  const cases: [string, number, number, string][] = [
    ["runAsUser: 9007199254740993\n", 0, 11, "9007199254740992"],
    ["a: 1\nb:\n  - x: 0xFFFFFFFFFFFFFFFF  # uint64's largest\n", 2, 7, "18446744073709552000"],
    // Held exactly, but written with its shortest digits: another integer to Go.
    ["a: -9223372036854775808\n", 0, 3, "-9223372036854776000"],
    ["a: [1, 1_000_000_000_000_000_001, 2]\n", 0, 7, "1000000000000000000"],
    ["a: 1\n---\n9007199254740993: key\n", 2, 0, "9007199254740992"],
  ];
  for (const [text, line, column, written] of cases) {
    it(JSON.stringify(text), () => {
      assert.throws(
        () => loadKubeDocuments(text, "t.yaml"),
        (e: unknown) => {
          assert.ok(e instanceof InexactInteger);
          assert.deepEqual([e.mark.line, e.mark.column], [line, column]);
          assert.match(e.reason, new RegExp(`cannot be kept exactly: .* the manifest would have ${written}$`));
          return true;
        },
      );
    });
  }
});

describe("kube-yaml: property: an integer is read exactly or refused, never changed", () => {
  const forms: ((v: bigint) => string)[] = [
    (v) => v.toString(),
    (v) => `${v < 0n ? "-" : ""}0x${(v < 0n ? -v : v).toString(16)}`,
    (v) => `${v < 0n ? "-" : ""}0o${(v < 0n ? -v : v).toString(8)}`,
    (v) => v.toString().replace(/(\d)(?=(\d{3})+$)/g, "$1_"),
  ];
  it("in any of yaml.v2's forms, across int64 and uint64", () => {
    const integer = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }));
    fc.assert(
      fc.property(integer, fc.nat(forms.length - 1), (v, form) => {
        const text = `v: ${forms[form](v)}\n`;
        try {
          const read = loadKubeDocuments(text, "t.yaml")[0] as { v: number };
          assert.equal(String(read.v), v.toString(), text);
        } catch (e) {
          assert.ok(e instanceof InexactInteger, String(e));
          assert.equal(e.mark.column, 3);
          assert.ok(v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER), text);
        }
      }),
      { numRuns: propertyRuns(2000, 200) },
    );
  });
});

describe("kube-yaml: the ambiguity pre-check", () => {
  it("agrees with the full test on every string of up to two printable ASCII characters", () => {
    const disagree = upToTwoChars.filter((s) => isAmbiguous(s) !== fullTest(s));
    assert.deepEqual(disagree, []);
  });

  it("agrees with the full test on arbitrary strings and on number-like ones", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), numberish), (s) => isAmbiguous(s) === fullTest(s)), { numRuns: propertyRuns(20000, 2000) });
  });

  it("readsAsOther agrees with all of the dump schema's types, on short, arbitrary and number-like strings", () => {
    const words = ["true", "True", "TRUE", "false", "FALSE", "null", "Null", "NULL", ".inf", "-.Inf", ".NaN", "0b101", "0x1F", "0o17", "1e3", "+12.5"];
    assert.deepEqual([...upToTwoChars, ...words].filter((s) => readsAsOther(s) !== readsAsOtherFull(s)), []);
    fc.assert(fc.property(fc.oneof(fc.string(), numberish), (s) => readsAsOther(s) === readsAsOtherFull(s)), { numRuns: propertyRuns(20000, 2000) });
  });
});

// Strings built from the characters where YAML's rules differ: indicators, blanks, line breaks,
// escapes, non-printable and astral characters, a lone surrogate, a byte order mark.
const tricky = fc.string({
  unit: fc.constantFrom(..."aZ09 :#-?,[]{}&*!|=>'\"%@`~<._+eEyYnNtT\t\n\r\\".split(""), "\u0000", "\u0007", "\u001b", "\u0085", "\u00a0", "\u00e9", "\u2028", "\ufeff", "\ud83d\ude00", "\ud800", "\ue000", "\ufffe", "\uffff"),
  maxLength: 10,
});
const scalarValue = fc.oneof(tricky, numberish, fc.integer(), fc.double(), fc.constantFrom(-0, 1e21, 5e-100, 2 ** 53, NaN, Infinity, -Infinity), fc.boolean(), fc.constant(null));
const plainData = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalarValue, tie("list"), tie("map")),
  list: fc.array(tie("node"), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(tricky, numberish), tie("node"), { maxKeys: 4 }),
})).node;

describe("kube-yaml: the emitter writes js-yaml's bytes", () => {
  it("on generated manifests-like values: nested maps and lists, tricky strings and keys, every kind of number", () => {
    fc.assert(fc.property(plainData, (v) => emitYaml(v, KUBE_SCALAR_RULES) === dumpYamlWithJsYaml(v)), { numRuns: propertyRuns(5000, 500) });
  });

  const cases: [string, unknown][] = [
    ["literal blocks: clip, strip, keep, a leading blank line, a leading space", { a: "x\n", b: "x", c: "x\ny", d: "x\n\n", e: "\n", f: "\nx", g: " x\ny", h: ["x\ny", { i: "p\nq\n" }] }],
    ["lines that end in blanks (double-quoted), as values and keys", { "k \nv": "a \nb", list: ["t\t\n"] }],
    ["a key longer than 1,024 characters is explicit", { ["k".repeat(1025)]: { a: 1 }, ["q".repeat(1025)]: [1, 2], ["s".repeat(1025)]: "v" }],
    ["empty collections, in a list and under keys", { a: {}, b: [], c: [[], {}, [[]]] }],
    ["YAML 1.1 booleans and sexagesimals", ["y", "No", "OFF", "12:30", "-1:2:3.5", "1_000:00"]],
    ["a top-level string, number, list", "plain"],
    ["a top-level multi-line string", "x\ny\n"],
    ["a top-level empty map", {}],
  ];
  for (const [name, value] of cases) it(name, () => assert.equal(emitYaml(value, KUBE_SCALAR_RULES), dumpYamlWithJsYaml(value)));

  it("leaves what is not plain data to js-yaml: an undefined value is dropped, a Date is refused", () => {
    assert.equal(emitYaml({ a: undefined }, KUBE_SCALAR_RULES), undefined);
    assert.equal(dumpYaml({ a: undefined, b: [1, undefined] }), "b:\n  - 1\n  - null\n");
    assert.throws(() => dumpYaml({ when: new Date(0) }), /unacceptable kind of an object to dump \[object Date\]/);
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

  it("and read back by gen-manifests' own reader (yaml.v2's rules) too: every string it would take for a number, boolean or null is quoted", () => {
    const words = fc.constantFrom("0644", "0X1F", "0B11", "0O17", "+.5", "-.5", "1_", "1.5_0", "+.inf", ".NaN", "TRUE", "False", "NULL", "y", "OFF");
    fc.assert(
      fc.property(fc.oneof(numberish, words, fc.string()), (s) => {
        assert.deepEqual(loadKubeDocument(dumpYaml({ [s]: s })), { [s]: s });
      }),
      { numRuns: propertyRuns(20000, 2000) },
    );
  });
});
