// `npm test [-- [--deep] [file…]]`: builds if a source changed, then runs the test files in
// parallel, one process each, with a compact reporter (scripts/test-reporter.mjs).
//   file   a test to run alone: test/cli.test.ts, dist/test/cli.test.js or cli; a folder runs
//          every *.test.js in it (test/e2e is run this way only: `npm test` leaves it out)
//   --deep the property tests' full number of runs (GEN_MANIFESTS_DEEP_TESTS=1 does the same)
//   --…    any other option is node --test's, e.g. --test-name-pattern="--help"
// Node 22 and newer read `node --test <folder>` as a module, so the files are listed here.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildIfChanged } from "./build-if-changed.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TESTS = path.join(ROOT, "dist", "test");

const testFilesIn = (dir) =>
  fs.readdirSync(dir).filter((name) => name.endsWith(".test.js")).sort().map((name) => path.join(dir, name));

/** A name as given (source or built, file or folder, or a bare name) → the built test files. */
function builtTests(arg) {
  const rel = path.relative(ROOT, path.resolve(arg)).replace(/^dist[\\/]/, "");
  const built = path.join(ROOT, "dist", rel.replace(/\.ts$/, ".js"));
  if (fs.existsSync(built) && fs.statSync(built).isDirectory()) return testFilesIn(built);
  for (const file of [built, path.join(TESTS, `${arg}.test.js`), path.join(TESTS, `${arg}.js`)]) if (file.endsWith(".js") && fs.existsSync(file)) return [file];
  throw new Error(`${arg}: no such test (looked for ${path.relative(ROOT, built)} and dist/test/${arg}.test.js)`);
}

const args = process.argv.slice(2);
const deep = args.includes("--deep");
// Other options go to node --test as they are: --test-name-pattern=…, --test-only.
const nodeOptions = args.filter((a) => a.startsWith("--") && a !== "--deep");
const names = args.filter((a) => !a.startsWith("--"));

const built = buildIfChanged();
if (built !== 0) process.exit(built);

let files;
try {
  files = names.length ? names.flatMap(builtTests) : testFilesIn(TESTS);
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
const env = deep ? { ...process.env, GEN_MANIFESTS_DEEP_TESTS: "1" } : process.env;
// node --test runs one file fewer than there are cores at a time; the files mostly wait on the
// CLI they spawn, so as many as there are cores.
const concurrency = os.availableParallelism?.() ?? os.cpus().length;
const r = spawnSync(
  process.execPath,
  ["--test", `--test-concurrency=${concurrency}`, `--test-reporter=${path.join(ROOT, "scripts", "test-reporter.mjs")}`, ...nodeOptions, ...files],
  { cwd: ROOT, stdio: "inherit", env },
);
process.exitCode = r.status ?? 1;
