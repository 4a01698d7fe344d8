// Fuzzing the CLI: random bytes and random JSON as parameters, random text as a template. It
// always ends with exit 0, 1 or 2 and a message, never a stack trace, never a partial out/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { main } from "../src/cli";
import { makeChart, SECRET_TEMPLATE, snapshot, WEB_TEMPLATE } from "./helpers";

/** Runs the CLI in this process (main is synchronous), capturing what it prints. */
function runMain(args: string[]): { code: number; output: string } {
  let output = "";
  const code = main(args, (_fd, text) => (output += text));
  return { code, output };
}

const SENTINEL = "FUZZ-SENTINEL-secret-9d2e";
const cwd = makeChart({ "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE }, { name: "web", password: SENTINEL });
const base = ["--templates", path.join(cwd, "kubernetes-in"), "--schema", path.join(cwd, "params", "schema.json"), "--out", path.join(cwd, "out")];
const good = path.join(cwd, "params.json");
assert.equal(runMain(["--params", good, ...base]).code, 0);
const folders = () => ({ out: snapshot(path.join(cwd, "out")), secrets: snapshot(path.join(cwd, "secrets")) });

function assertWellBehaved(r: { code: number; output: string }, before: ReturnType<typeof folders>, args: string[]): void {
  assert.ok([0, 1, 2].includes(r.code), `exit ${r.code}`);
  assert.doesNotMatch(r.output, /\n\s+at .+:\d+:\d+\)?\n/, "no stack trace");
  assert.doesNotMatch(r.output, /internal error/, r.output);
  assert.ok(!r.output.includes(SENTINEL), "no secret printed");
  if (r.code !== 0) {
    assert.match(r.output, /^error: /m, "a message");
    assert.deepEqual(folders(), before, "output untouched");
  } else {
    // Success means out/ is whole and current.
    assert.equal(runMain([...args, "--check"]).code, 0);
  }
}

/** Writes each generated input to a file, runs the CLI, and checks it behaves. */
function fuzz<T>(arbitrary: fc.Arbitrary<T>, file: string, write: (v: T) => string | Uint8Array, args: string[], numRuns: number): void {
  fc.assert(
    fc.property(arbitrary, (value) => {
      const before = folders();
      fs.writeFileSync(file, write(value));
      assertWellBehaved(runMain(args), before, args);
    }),
    { numRuns },
  );
}

describe("fuzz", () => {
  it("random bytes as parameters", () => {
    const file = path.join(cwd, "fuzz-params");
    fuzz(fc.uint8Array({ maxLength: 300 }), file, (b) => b, ["--params", good, "--params", file, ...base, "--quiet"], 150);
  });

  it("random JSON as parameters", () => {
    const file = path.join(cwd, "fuzz.json");
    fuzz(fc.json({ maxDepth: 4 }), file, (j) => j, ["--params", good, "--params", file, ...base, "--quiet"], 150);
  });

  it("random text as a template", () => {
    const file = path.join(cwd, "kubernetes-in", "fuzz.yaml.hbs");
    const pieces = ["{{", "}}", "{{#if name}}", "{{/if}}", "{{> x}}", "{{name}}", "{{password}}", "{{replicas}}", "apiVersion: v1\n", "kind: ConfigMap\n", "metadata:\n  name: f\n", "data:\n  a: ", "---\n", ": ", "- ", "\n", "  ", "#", '"', "'", "[", "{", "&a", "*a"];
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((a) => a.join("")));
    fuzz(text, file, (t) => t, ["--params", good, ...base, "--quiet"], 200);
    fs.rmSync(file);
  });
});
