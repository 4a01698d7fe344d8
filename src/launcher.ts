#!/usr/bin/env node
// The `gen-manifests` command. It runs the bundled CLI from V8's code cache: compiling the 1.4 MB
// bundle's functions is otherwise a third of a short run. The cache is taken after the run, not
// after loading (unlike v8-compile-cache), so it holds every function the command used; one entry
// per command and per exact bundle (its hash, size and time stamp), Node and architecture, so an
// entry is never stale. Node 22's module.enableCompileCache() takes its cache when a module is
// compiled, before any function has run: on Node 24 it saves half as much (bench/results.md), so
// this launcher is used on every Node.
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";
import { openCompileCache } from "./compile-cache";

const BUNDLE = path.join(__dirname, "gen-manifests.bundle.js");
/** The bundle's SHA-256, written in by scripts/build.mjs: no start hashes its 1.5 MB. */
const BUNDLE_SHA256 = "__GEN_MANIFESTS_BUNDLE_SHA256__";
const COMMANDS = new Set(["render", "diff", "plan", "init-params", "completion"]);

/** Which command runs decides which functions get compiled: each has its own entry. */
function commandOf(argv: string[]): string {
  const command = argv.find((a) => !a.startsWith("-"));
  const help = argv.some((a) => a === "--help" || a === "-h" || a === "--version" || a === "--get-yargs-completions");
  return `${command && COMMANDS.has(command) ? command : "render"}${help ? "-help" : ""}`;
}

type Cli = typeof import("./cli");

function runBundle(argv: string[]): number {
  // The build wraps the bundle as a CommonJS module and keeps it ASCII: read as latin1 (a copy of
  // its bytes, nothing to decode), it is compiled as it is. Its size and time stamp are part of
  // the key with the build's hash, so a bundle changed in place (patch-package) is compiled afresh.
  const { size, mtimeMs } = fs.statSync(BUNDLE);
  const source = fs.readFileSync(BUNDLE, "latin1");
  const cache = openCompileCache();
  const key = `bundle\0${BUNDLE_SHA256}\0${size}\0${mtimeMs}\0${commandOf(argv)}`;
  const cachedData = cache.getCodeCache(key);
  const script = new vm.Script(source, { filename: BUNDLE, cachedData });
  const bundle = new Module(BUNDLE, module);
  bundle.filename = BUNDLE;
  bundle.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(__dirname);
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(bundle.exports, bundle.exports, Module.createRequire(BUNDLE), bundle, BUNDLE, __dirname);
  bundle.loaded = true;
  const outcome = (bundle.exports as Cli).run(argv);
  // The cache is used as it is from then on, so it is taken from a typical run: one that went to
  // the end (a failed run compiles few functions) and found its templates and validator in the
  // compile cache (a run that generated them also compiled the compilers, a third more to load).
  if ((cachedData === undefined || script.cachedDataRejected) && outcome.exitCode === 0 && !outcome.generatedCode) cache.setCodeCache(key, script.createCachedData());
  return outcome.exitCode;
}

process.exitCode = runBundle(process.argv.slice(2));
