// `npm test [-- [--deep] [file…]]`: builds if a source changed, then runs the test files in
// parallel, one process each, with a compact reporter (scripts/test-reporter.mjs).
//   file   a test to run alone: test/cli.test.ts, dist/test/cli.test.js or cli; a folder runs
//          every *.test.ts in it (test/e2e is run this way only: `npm test` leaves it out)
//   --deep the property tests' full number of runs (GEN_MANIFESTS_DEEP_TESTS=1 does the same)
//   --times the slowest files, with the time their tests took (GEN_MANIFESTS_TEST_TIMES=1)
//   --…    any other option is node --test's, e.g. --test-name-pattern="--help"
// Node 22 and newer read `node --test <folder>` as a module, so the files are listed here.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildIfChanged } from "./build-if-changed.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A test source's built file. Tests are listed from their sources: dist/ may keep a deleted test's output. */
const built = (source) => path.join(ROOT, "dist", path.relative(ROOT, source).replace(/\.ts$/, ".js"));

const testsIn = (dir) =>
  fs.readdirSync(dir).filter((name) => name.endsWith(".test.ts")).sort().map((name) => built(path.join(dir, name)));

/** A name as given (source or built, file or folder, or a bare name) → the built test files. */
function builtTests(arg) {
  const source = path.join(ROOT, path.relative(ROOT, path.resolve(arg)).replace(/^dist[\\/]/, "").replace(/\.js$/, ".ts"));
  if (fs.existsSync(source) && fs.statSync(source).isDirectory()) return testsIn(source);
  for (const file of [source, path.join(ROOT, "test", `${arg}.test.ts`), path.join(ROOT, "test", `${arg}.ts`)]) if (file.endsWith(".ts") && fs.existsSync(file)) return [built(file)];
  throw new Error(`${arg}: no such test (looked for ${path.relative(ROOT, source)} and test/${arg}.test.ts)`);
}

const args = process.argv.slice(2);
const deep = args.includes("--deep");
const times = args.includes("--times");
// Other options go to node --test as they are: --test-name-pattern=…, --test-only.
const nodeOptions = args.filter((a) => a.startsWith("--") && a !== "--deep" && a !== "--times");
const names = args.filter((a) => !a.startsWith("--"));

const buildStatus = buildIfChanged();
if (buildStatus !== 0) process.exit(buildStatus);

let files;
try {
  files = names.length ? names.flatMap(builtTests) : testsIn(path.join(ROOT, "test"));
  // Given no files, node --test would look for tests everywhere.
  if (files.length === 0) throw new Error(`no tests in ${names.join(" ") || "test/"}`);
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
const env = { ...process.env, ...(deep ? { GEN_MANIFESTS_DEEP_TESTS: "1" } : {}), ...(times ? { GEN_MANIFESTS_TEST_TIMES: "1" } : {}) };
// By default node --test runs one file fewer than there are cores at a time: on 2 cores, one.
const concurrency = os.availableParallelism?.() ?? os.cpus().length;
const r = spawnSync(
  process.execPath,
  ["--test", `--test-concurrency=${concurrency}`, `--test-reporter=${path.join(ROOT, "scripts", "test-reporter.mjs")}`, ...nodeOptions, ...files],
  { cwd: ROOT, stdio: "inherit", env },
);
process.exitCode = r.status ?? 1;
