// Property tests over the shipped set: whatever string a parameter holds, the written manifests
// read back (YAML 1.1, as Kubernetes reads them) to the same objects with exactly that string in
// place, and integers stay exact integers. Inside a config file's text, a value is written by the
// file's format (test/config-dialects.test.ts reads those back with the services' parsers): there
// it may add no line, or it is refused at its place without being shown.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { buildOutput } from "../src/stages/build-output";
import { compileTemplates } from "../src/stages/compile-templates";
import { encodeSecretData } from "../src/stages/encode-secret-data";
import { orderManifests } from "../src/stages/order-manifests";
import { renderTemplates } from "../src/stages/render";
import { GenError } from "../src/errors";
import { validateParams } from "../src/stages/validate-params";
import { readInputs } from "../src/read-inputs";
import type { Params, ParamValue } from "../src/types";
import { propertyRuns, REPO, secretText } from "./helpers";

const inputs = readInputs({ params: ["params/example.json"] }, REPO);
const set = compileTemplates({ files: inputs.templates, schema: inputs.schema });
const base = validateParams({ values: JSON.parse(inputs.paramsFiles[0].text), origin: {}, schema: inputs.schema, schemaFile: "schema.json", sources: [] });
const props = inputs.schema.properties ?? {};

/** Every object as read back from the bytes written (secrets inlined, to read them too). */
function writtenObjects(params: Params): Record<string, unknown> {
  const { manifests, plan } = orderManifests(encodeSecretData(renderTemplates(set, params)));
  const { out } = buildOutput({ manifests, plan, outDir: "out", secretsDir: "secrets", inlineSecrets: true });
  const objects: Record<string, unknown> = {};
  for (const m of manifests) {
    const o = parse(out.files.get(m.fileName)!.content, { version: "1.1" });
    // A Secret's values are written in base64: compared as the text they decode to.
    objects[m.fileName] = o.kind === "Secret" ? { ...o, data: secretText(o) } : o;
  }
  return objects;
}

function withValue(name: string, value: ParamValue): Params {
  return { ...base, values: { ...base.values, [name]: value } };
}

/** Replaces a marker inside every string, and a marker number everywhere, of a tree. */
function replaceDeep(v: unknown, from: string | number, to: string | number): unknown {
  if (typeof v === "string" && typeof from === "string") return v.split(from).join(String(to));
  if (typeof v === "number" && v === from) return to;
  if (Array.isArray(v)) return v.map((x) => replaceDeep(x, from, to));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceDeep(x, from, to)]));
  return v;
}

// Free-form strings only: a parameter with a pattern or format refuses most strings by design.
// The seed's admin token and keystone password reach nothing any more (keystone's bootstrap replaced them).
const RETIRED = ["keystone_admin_token", "keystone_admin_password"];
const freeStrings = Object.entries(props)
  // The checksums' key reaches no manifest: it keys the checksums (annotate-checksums.test.ts).
  .filter(([n, p]) => p.type === "string" && !p.pattern && !p.format && !p.not && !RETIRED.includes(n) && !p["x-checksum-key"])
  .map(([n]) => n);

/**
 * `actual` is `expected` with the marker replaced by `value`, except in config text (a string of
 * several lines with the marker on a `name = value` or JSON line): there every line keeps its
 * place, and only the marker's lines may differ (the format escapes the value).
 */
function assertWritten(actual: unknown, expected: unknown, mark: string, value: string, at = "/"): void {
  if (typeof expected === "string" && expected.includes(mark) && expected.includes("\n") && /^\s*[\w.-]+ = .*qzmarkqz|"qzmarkqz"/m.test(expected)) {
    assert.equal(typeof actual, "string", at);
    const got = (actual as string).split("\n");
    const want = expected.split("\n");
    assert.equal(got.length, want.length, `${at}: a value added or removed a line of a config file`);
    want.forEach((line, i) => {
      if (!line.includes(mark)) assert.equal(got[i], line, `${at}: line ${i + 1}`);
      else assert.equal(got[i].split(/ = |": "/)[0], line.split(/ = |": "/)[0], `${at}: line ${i + 1} keeps its option`);
    });
    return;
  }
  if (expected && typeof expected === "object") {
    assert.equal(typeof actual, "object", at);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), at);
    for (const [k, v] of Object.entries(expected)) assertWritten((actual as Record<string, unknown>)[k], v, mark, value, `${at}${k}/`);
    return;
  }
  assert.deepEqual(actual, replaceDeep(expected, mark, value), at);
}
const integers = Object.entries(props).filter(([, p]) => p.type === "integer").map(([n]) => n);

const YAML_TRAPS = [".", "-.", "1.2.3", "+.5e+3", ".1_000017", "1__0", "_1", "1:2.5", "1.e5", "E0", "\n ", " \n", "a \nb", "a\n\t", "no", "yes", "on", "off", "y", "n", "Y", "NO", "true", "False", "null", "~", "0x1F", "0o17", "1e3", "12:30", "2026-01-01", ".inf", "-.nan", "1_000", "017", "+1", "- x", "? x", ": x", "a: b", "#c", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x", "'", '"', "\\", "{a}", "[a]", "---", "...", " ", "\t", "a\nb", "\n", " a ", "\u2028", "\u0085", "\ufeff", "\u0000", "\r\n", "x\r", "é\u0301"];
const arbitraryValue = fc.oneof(
  fc.string({ minLength: 1, unit: "binary-ascii" }),
  fc.string({ minLength: 1, unit: "grapheme" }),
  fc.constantFrom(...YAML_TRAPS),
  fc.array(fc.constantFrom(...YAML_TRAPS, "a", " ", "\n", ":"), { minLength: 1, maxLength: 6 }).map((a) => a.join("")),
);

describe("property: values are data", () => {
  it("covers the shipped set's free-form string parameters", () => {
    assert.ok(freeStrings.length >= 15, freeStrings.join(", "));
    assert.ok(integers.length >= 17);
  });

  for (const name of freeStrings) {
    it(`any string in ${name} round-trips exactly`, () => {
      const MARK = "qzmarkqz";
      const expected = writtenObjects(withValue(name, MARK));
      assert.ok(JSON.stringify(expected).includes(MARK), `${name} reaches some manifest`);
      fc.assert(
        fc.property(arbitraryValue, (value) => {
          let written: Record<string, unknown>;
          try {
            written = writtenObjects(withValue(name, value));
          } catch (e) {
            // Refused: only where a config format cannot hold the value, at the parameter's place, the value not shown.
            if (!(e instanceof GenError)) throw e;
            // A line break, a control character, a blank at an end (ConfigParser strips it) or a lone surrogate.
            assert.match(value, /[\x00-\x08\x0a-\x1f\x7f]|^[\s\x85]|[\s\x85]$|[\ud800-\udfff]/, "refused only what a format cannot hold");
            for (const p of e.problems) {
              assert.match(p.message, new RegExp(`the value of \\{\\{${name}\\}\\} .*cannot hold.*\\(the value is not shown\\)$`), p.message);
              if (value.trim().length >= 4) assert.ok(!p.message.includes(value), "the value is not shown");
            }
            return;
          }
          assertWritten(written, expected, MARK, value);
        }),
        { numRuns: propertyRuns(25, 5) },
      );
    });
  }

  for (const name of integers) {
    it(`any integer in ${name} is written as exactly that integer`, () => {
      const MARK = 987654321;
      const expected = writtenObjects(withValue(name, MARK));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n) => {
          // As a number where it is one, as digits inside a text (a command's flag, a config file).
          assert.deepEqual(writtenObjects(withValue(name, n)), replaceDeep(replaceDeep(expected, MARK, n), String(MARK), String(n)));
        }),
        { numRuns: propertyRuns(8, 3) },
      );
    });
  }
});
