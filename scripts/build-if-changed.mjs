// Runs `npm run build` unless dist/ was built, by this Node, after every source last changed:
// `npm test` and `npm run bench` build only when there is something new to build.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Written by scripts/build.mjs when a build ends, with the time it began and the Node that built it. */
export const BUILD_STAMP = path.join(ROOT, "dist", ".build-stamp");
/** What the build reads: the TypeScript and the build's own files. */
const SOURCES = ["src", "test", "bench", "scripts", "package.json", "package-lock.json", "tsconfig.json"];

function newestChange(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  // test/fixtures are read by the tests where they are, never built.
  if (entry === path.join(ROOT, "test", "fixtures")) return 0;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newestChange(path.join(entry, name))));
}

export function buildIsCurrent() {
  let stamp;
  try {
    stamp = { node: fs.readFileSync(BUILD_STAMP, "utf8").trim(), time: fs.statSync(BUILD_STAMP).mtimeMs };
  } catch {
    return false;
  }
  // Another Node may need another build (its dependencies' install scripts, esbuild's binary).
  return stamp.node === process.version && Math.max(...SOURCES.map((s) => newestChange(path.join(ROOT, s)))) < stamp.time;
}

/** Builds if needed; returns the build's exit status (0 if there was nothing to build). */
export function buildIfChanged() {
  if (buildIsCurrent()) return 0;
  // The npm that runs this script, else the one on PATH.
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ["npm", []];
  const r = spawnSync(npm[0], [...npm[1], "run", "build"], { cwd: ROOT, stdio: "inherit" });
  return r.status ?? 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = buildIfChanged();
