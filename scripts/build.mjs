// Bundles the CLI into one file, dist/gen-manifests.bundle.js, and the small launcher that runs it
// from V8's code cache, dist/gen-manifests.js (after `tsc`, which builds dist/src and the tests).
import { createHash } from "node:crypto";
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import * as esbuild from "esbuild";

/**
 * Modules that @kubernetes-models/validate loads whole at start but a render never needs in full:
 * every object pays for them on every run. Each is replaced by a module that loads its parts on
 * first use. Built-in kinds use only the int32, int64, double and byte formats.
 */
const LOADED_ON_USE = {
  // Error messages in 18 languages; kubernetes-models uses the English ones, and only on a failure.
  "ajv-i18n": `module.exports = { en: (errors) => require("ajv-i18n/localize/en")(errors) };`,
  // JSON Schema 2019 formats: iri builds an e-mail grammar (smtp-address-parser) when loaded, ~3 ms.
  "ajv-formats-draft2019/formats/index.js": `
    const onUse = (load) => { let validate; return (value) => (validate ??= load())(value); };
    module.exports = {
      iri: onUse(() => require("ajv-formats-draft2019/formats/iri.js")),
      duration: require("ajv-formats-draft2019/formats/duration.js"),
      "idn-email": onUse(() => require("ajv-formats-draft2019/formats/idn-email.js")),
      "idn-hostname": onUse(() => require("ajv-formats-draft2019/formats/idn-hostname.js")),
      "iri-reference": onUse(() => require("ajv-formats-draft2019/formats/iri-reference.js")),
    };`,
};

const loadOnUse = {
  name: "load-on-use",
  setup(build) {
    const exact = new RegExp(`^(${Object.keys(LOADED_ON_USE).map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")})$`);
    build.onResolve({ filter: exact }, (args) => ({ path: args.path, namespace: "load-on-use" }));
    build.onLoad({ filter: /.*/, namespace: "load-on-use" }, (args) => ({ contents: LOADED_ON_USE[args.path], loader: "js", resolveDir: process.cwd() }));
  },
};

/**
 * yargs' platform shim, as it loads, imports node:assert (which sets up colours, and with them
 * process.stderr) and reads process.stdout's width: ~6 ms of every run, for --help and for two
 * checks of yargs' own invariants. The checks become plain comparisons (Object.is, as node:assert
 * compares), and the width is read when asked for. The build fails if yargs changes the lines,
 * rather than ship them unpatched.
 */
const YARGS_INVARIANTS = `
const invariant = (holds, message, what) => { if (!holds) throw message instanceof Error ? message : new Error(message ?? what); };
const notStrictEqual = (actual, expected, message) => invariant(!Object.is(actual, expected), message, "yargs: unexpected " + String(actual));
const strictEqual = (actual, expected, message) => invariant(Object.is(actual, expected), message, "yargs: expected " + String(expected) + ", got " + String(actual));
`;
const YARGS_SHIM_EDITS = [
  ["import { notStrictEqual, strictEqual } from 'assert'", YARGS_INVARIANTS],
  ["stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null", "get stdColumns() { return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null; }"],
];

const deferYargsShim = {
  name: "defer-yargs-shim",
  setup(build) {
    build.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      let contents = fs.readFileSync(args.path, "utf8");
      for (const [from, to] of YARGS_SHIM_EDITS) {
        if (!contents.includes(from)) throw new Error(`${args.path}: expected to find ${from}; update YARGS_SHIM_EDITS in scripts/build.mjs`);
        contents = contents.replace(from, to);
      }
      return { contents, loader: "js" };
    });
  },
};

// --profile: readable names, into dist/profile/, for `node --cpu-prof dist/profile/gen-manifests.js ...`.
const profile = process.argv.includes("--profile");
// When this build began: a source changed after it is newer than the build (one changed while tsc ran, before it, is missed).
const began = new Date();

await esbuild.build({
  entryPoints: { "gen-manifests": "src/launcher.ts", "gen-manifests.bundle": "src/cli.ts" },
  outdir: profile ? "dist/profile" : "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  mainFields: ["module", "main"],
  external: ["yaml"],
  alias: { cliui: "./src/cliui.ts" },
  plugins: [loadOnUse, deferYargsShim],
  minify: !profile,
  legalComments: "none",
  logLevel: "error",
});

/**
 * The bundle as the launcher compiles it, so that no start copies, decodes or hashes its 1.5 MB:
 * wrapped as a CommonJS module already, ASCII (read as latin1; esbuild escapes the rest), and its
 * hash written into the launcher.
 */
function finishBundle(outdir) {
  const bundle = path.join(outdir, "gen-manifests.bundle.js");
  let text = fs.readFileSync(bundle, "utf8").replace(/^#!.*\n/, "");
  // Unminified, the bundle keeps its dependencies' comments, some of them not ASCII (esbuild
  // escapes strings and regular expressions either way): escaped there, the profile build runs too.
  if (profile) text = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const nonAscii = text.search(/[^\x00-\x7f]/);
  if (nonAscii !== -1) throw new Error(`${bundle}: a character that is not ASCII at offset ${nonAscii}; the launcher reads the bundle as latin1`);
  // The build id (src/build-id.ts), part of every compile-cache key: the bundle's hash, written into
  // the bundle and the launcher. Not into tsc's output, which tsc may update file by file: run
  // unbundled, gen-manifests keeps its cache in memory rather than one another build's code may be read from.
  const buildId = createHash("sha256").update(text).digest("hex");
  const launcher = path.join(outdir, "gen-manifests.js");
  const withId = (file, code) => {
    const placeholder = "__GEN_MANIFESTS_BUILD_ID__";
    if (code.split(placeholder).length !== 2) throw new Error(`${file}: expected the placeholder ${placeholder} once`);
    return code.replace(placeholder, buildId);
  };
  const wrapped = Module.wrap(withId(bundle, text));
  fs.writeFileSync(bundle, wrapped);
  const placeholder = "__GEN_MANIFESTS_BUNDLE_SHA256__";
  const code = withId(launcher, fs.readFileSync(launcher, "utf8"));
  if (code.split(placeholder).length !== 2) throw new Error(`${launcher}: expected the placeholder ${placeholder} once`);
  fs.writeFileSync(launcher, code.replace(placeholder, createHash("sha256").update(wrapped).digest("hex")));
}

finishBundle(profile ? "dist/profile" : "dist");

// The launcher is the bin; dist/src/cli.js stays executable for npx caches made before the bundle.
if (!profile) for (const f of ["dist/gen-manifests.js", "dist/src/cli.js"]) fs.chmodSync(f, 0o755);

// For scripts/build-if-changed.mjs: the build is complete, made by this Node from the sources as they were when it began.
if (!profile) {
  const stamp = "dist/.build-stamp";
  fs.writeFileSync(stamp, `${process.version}\n`);
  fs.utimesSync(stamp, began, began);
}
