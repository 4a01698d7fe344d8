// Bundles the CLI into one file, dist/gen-manifests.bundle.js, and the small launcher that runs it
// from V8's code cache, dist/gen-manifests.js (after `tsc`, which builds dist/src and the tests).
import fs from "node:fs";
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

// --profile: readable names, into dist/profile/, for `node --cpu-prof dist/profile/gen-manifests.js ...`.
const profile = process.argv.includes("--profile");

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
  plugins: [loadOnUse],
  minify: !profile,
  legalComments: "none",
  logLevel: "error",
});

// The launcher is the bin; dist/src/cli.js stays executable for npx caches made before the bundle.
if (!profile) for (const f of ["dist/gen-manifests.js", "dist/src/cli.js"]) fs.chmodSync(f, 0o755);
