// The masking function every printer goes through: whatever a secret is, and however a printer
// spells it (raw, YAML, JSON, JSON of YAML, a diff's lines, base64 inside longer data), none of its
// spellings is left, and text that holds no secret is left as it was.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createTwoFilesPatch } from "diff";
import { parse } from "yaml";
import { serializeManifest } from "../src/kube-yaml";
import { MASK, maskSecrets, MIN_MASKED_LENGTH } from "../src/mask-secrets";

/** The old side of a unified diff, as the file it was. */
const oldSide = (patch: string): string =>
  patch
    .split("\n")
    .filter((l) => /^[- ]/.test(l) && !l.startsWith("---"))
    .map((l) => l.slice(1))
    .join("\n");
const yamlData = (text: string): unknown => (parse(text, { version: "1.1" }) as { data: { a: unknown } }).data.a;

/** The ways a printer can spell a text that holds the value, and how a reader gets the text back. */
const PRINTERS: [string, (text: string) => string, (printed: string) => unknown][] = [
  ["raw", (t) => t, (p) => p],
  ["YAML", (t) => serializeManifest({ kind: "ConfigMap", data: { a: t } }), yamlData],
  ["JSON", (t) => JSON.stringify({ a: t }), (p) => (JSON.parse(p) as { a: string }).a],
  ["JSON of YAML", (t) => JSON.stringify({ patch: serializeManifest({ data: { a: t } }) }), (p) => yamlData((JSON.parse(p) as { patch: string }).patch)],
  ["a diff of YAML", (t) => createTwoFilesPatch("a", "b", serializeManifest({ data: { a: t } }), serializeManifest({ data: { a: "new" } })), (p) => yamlData(oldSide(p))],
  ["JSON of a diff", (t) => JSON.stringify({ patch: createTwoFilesPatch("a", "b", serializeManifest({ data: { a: t } }), "") }), (p) => yamlData(oldSide((JSON.parse(p) as { patch: string }).patch))],
  ["YAML single quotes", (t) => `data:\n  a: '${t.replace(/'/g, "''").replace(/\n/g, "\n\n    ")}'`, (p) => p.slice(11, -1).replace(/''/g, "'").replace(/\n\n {4}/g, "\n")],
  ["base64", (t) => Buffer.from(t).toString("base64"), (p) => Buffer.from(p, "base64").toString()],
  ["base64 of JSON", (t) => Buffer.from(JSON.stringify({ pw: t })).toString("base64"), (p) => (JSON.parse(Buffer.from(p, "base64").toString()) as { pw: string }).pw],
  ["base64url", (t) => Buffer.from(t).toString("base64url"), (p) => Buffer.from(p, "base64url").toString()],
];

/** What must not be left: the value, its JSON spellings, and its base64 at each byte alignment (the characters its bytes alone decide). */
function spellingsLeft(masked: string, secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret)).slice(1, -1)];
  const bytes = Buffer.from(secret);
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const inner = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
    if (inner.length >= MIN_MASKED_LENGTH) forms.push(inner, inner.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return forms.filter((f) => masked.includes(f));
}

const secret = fc.oneof(
  fc.string({ minLength: MIN_MASKED_LENGTH, maxLength: 40, unit: "grapheme" }),
  fc.string({ minLength: MIN_MASKED_LENGTH, maxLength: 40, unit: "binary" }),
  fc.array(fc.constantFrom("a", "Z", "9", " ", ":", "#", "'", '"', "\\", "\n", "\t", "\r", "\u2028", "\u0085", "é", "😀", "/", "+", "="), { minLength: MIN_MASKED_LENGTH, maxLength: 30 }).map((a) => a.join("")),
).filter((s) => [...s].length >= MIN_MASKED_LENGTH && s.trim() === s && !s.includes("\r"));
const around = fc.string({ maxLength: 12 });

describe("maskSecrets", () => {
  for (const [name, print, read] of PRINTERS) {
    it(`leaves no spelling of a secret printed as ${name}, wherever it stands in the text`, () => {
      fc.assert(
        fc.property(secret, around, around, (s, before, after) => {
          const printed = print(`${before}${s}${after}`);
          assert.ok(String(read(printed)).includes(s), "the reader gets the secret back from what was printed");
          const masked = maskSecrets(printed, [s]);
          assert.deepEqual(spellingsLeft(masked, s), [], `${JSON.stringify(printed)} → ${JSON.stringify(masked)}`);
          let readBack: unknown;
          try {
            readBack = read(masked);
          } catch {
            readBack = ""; // the mask broke the syntax: nothing to read back
          }
          assert.ok(!JSON.stringify(readBack ?? "").includes(JSON.stringify(s).slice(1, -1)), `read back from ${JSON.stringify(masked)}`);
          assert.ok(masked.includes(MASK) || name.startsWith("base64"), masked);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("leaves text without a secret, and secrets too short to mask, as they were", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1, maxLength: MIN_MASKED_LENGTH - 1 }), (text, short) => {
        const unrelated = "zq-\u0000-never-in-the-text";
        fc.pre(!text.includes("zq-"));
        assert.equal(maskSecrets(text, [unrelated, short]), text);
      }),
    );
  });

  it("masks a longer secret whole when it holds a shorter one", () => {
    assert.equal(maskSecrets("x: hunter2-and-more y: hunter2", ["hunter2", "hunter2-and-more"]), "x: [secret] y: [secret]");
  });
});
