#!/usr/bin/env node
// gen-manifests: arguments → options → pipeline → disk. The only place that prints and exits.
import fs from "node:fs";
import path from "node:path";
import yargs from "yargs";
import { GenError, formatProblem } from "./errors";
import { runPipeline } from "./pipeline";
import { defaultTemplatesDir, readInputs } from "./read-inputs";
import { parseParamsFile } from "./stages/load-params";
import { checkTargets, diffTree, writeTrees } from "./stages/write-output";
import { closestName, secretParamNames } from "./stages/validate-params";
import type { FileChange } from "./types";

interface Printer {
  out(line: string): void;
  err(line: string): void;
  bold(s: string): string;
  red(s: string): string;
}

function makePrinter(secretValues: Set<string>): Printer {
  const color = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  // Last line of defence: whatever is printed, no secret value gets through.
  const mask = (s: string): string => {
    let masked = s;
    for (const v of [...secretValues].sort((a, b) => b.length - a.length)) if (v.length >= 4) masked = masked.split(v).join("[secret]");
    return masked;
  };
  return {
    out: (line) => process.stdout.write(`${mask(line)}\n`),
    err: (line) => process.stderr.write(`${mask(line)}\n`),
    bold: (s) => (color ? `\x1b[1m${s}\x1b[22m` : s),
    red: (s) => (color ? `\x1b[31m${s}\x1b[39m` : s),
  };
}

const OPTION_NAMES = ["params", "set", "out", "secrets-out", "inline-secrets", "templates", "schema", "check", "quiet", "help", "version"];

function parseArgs(argv: string[]) {
  return yargs(argv)
    .scriptName("gen-manifests")
    .usage("$0 --params FILE [--params FILE...] [--set name=value...] [--out DIR]\n\nRenders the templates with the parameters into ordered Kubernetes manifests and an apply script.")
    .option("params", { alias: "p", type: "string", array: true, demandOption: true, describe: "parameters file: JSON or YAML, plain or a Heat stack's outputs (repeatable; later files win)" })
    .option("set", { type: "string", array: true, default: [], describe: "override one parameter: name=value (repeatable)" })
    .option("out", { alias: "o", type: "string", default: "out", describe: "output folder (replaced whole on success)" })
    .option("secrets-out", { type: "string", describe: "folder for Secret manifests (default: secrets/ beside the output folder)" })
    .option("inline-secrets", { type: "boolean", default: false, describe: "write Secrets into the output folder (for encrypted repositories)" })
    .option("templates", { type: "string", describe: "templates folder (default: ./kubernetes-in, else the shipped OpenStack set)" })
    .option("schema", { type: "string", describe: "parameters schema (default: params/schema.json beside the templates folder)" })
    .option("check", { type: "boolean", default: false, describe: "write nothing; exit 1 and list the files that would change" })
    .option("quiet", { alias: "q", type: "boolean", default: false, describe: "print nothing on success" })
    .example("$0 --params params/example.json", "render the shipped OpenStack set into out/")
    .example("$0 --params mystack.json --set keystone_replicas=5", "render with one parameter overridden")
    .example("$0 --params params/example.json --check", "in CI: fail when out/ is stale")
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw new GenError("usage", [{ message: suggest(msg ?? err?.message ?? "invalid arguments", argv) }], 2);
    })
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

const KNOWN_FLAGS = new Set([...OPTION_NAMES, "p", "o", "q", "no-inline-secrets", "no-check", "no-quiet"]);

/** A mistyped option is the likeliest cause of any usage error, so it is named first. */
function suggest(message: string, argv: string[]): string {
  const unknown = argv
    .filter((a) => /^--?[A-Za-z]/.test(a))
    .map((a) => a.replace(/^-+/, "").split("=")[0])
    .filter((a) => !KNOWN_FLAGS.has(a));
  if (unknown.length === 0) return message;
  const hints = unknown.map((a) => {
    const hint = closestName(a, OPTION_NAMES);
    return hint ? `${a} (did you mean --${hint}?)` : a;
  });
  return `unknown option ${hints.join(", ")}; see --help`;
}

/** On a failure before the parameters were parsed, learn their secrets anyway, to mask them. */
function learnSecrets(paramsPaths: string[], schemaPath: string | undefined, into: Set<string>): void {
  try {
    const schema = JSON.parse(fs.readFileSync(schemaPath ?? path.join(path.dirname(defaultTemplatesDir(process.cwd())), "params", "schema.json"), "utf8"));
    const names = secretParamNames(schema);
    for (const p of paramsPaths) {
      try {
        const { values } = parseParamsFile({ path: p, text: fs.readFileSync(p, "utf8") });
        for (const n of names) if (typeof values[n] === "string" && values[n] !== "") into.add(values[n] as string);
      } catch {
        // Unreadable or malformed: nothing of it reaches a message either.
      }
    }
  } catch {
    // No schema: no names to look for.
  }
}

function summarise(changes: FileChange[]): string {
  const count = (c: FileChange["change"]): number => changes.filter((x) => x.change === c).length;
  const parts = (["added", "changed", "removed"] as const).filter((c) => count(c) > 0).map((c) => `${count(c)} ${c}`);
  return parts.length ? parts.join(", ") : "no changes";
}

export function main(argv: string[]): number {
  const started = process.hrtime.bigint();
  const secretValues = new Set<string>();
  const print = makePrinter(secretValues);
  let learn = (): void => undefined;
  try {
    const args = parseArgs(argv).parseSync();
    learn = () => learnSecrets(args.params, args.schema, secretValues);
    if (args.help || args.version) return 0;
    const cwd = process.cwd();
    const inputs = readInputs({ params: args.params, templatesDir: args.templates, schemaFile: args.schema }, cwd);
    const outDir = args.out;
    const secretsDir = args["secrets-out"] ?? path.join(path.dirname(outDir), "secrets");
    const result = runPipeline({
      paramsFiles: inputs.paramsFiles,
      sets: args.set.map(String),
      schema: inputs.schema,
      schemaFile: inputs.schemaFile,
      templates: inputs.templates,
      outDir,
      secretsDir,
      inlineSecrets: args["inline-secrets"],
      secretValues,
    });
    const { out, secrets } = result.trees;
    const seconds = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(2);
    const what = `${result.manifests.length} objects from ${result.templateCount} templates`;
    if (args.check) {
      // The committed folder only: the secrets folder is never committed.
      const changes = diffTree(out);
      if (changes.length === 0) {
        if (!args.quiet) print.out(`${outDir}/ is up to date (${what}) in ${seconds} s`);
        return 0;
      }
      for (const c of changes) print.err(`${c.change}: ${c.file}`);
      print.err(`${print.red("error:")} ${outDir}/ is stale: ${summarise(changes)}; run gen-manifests --params ${args.params.join(" --params ")} to regenerate it`);
      return 1;
    }
    const trees = secrets ? [out, secrets] : [out];
    checkTargets(trees, inputs.templatesDir, (d) => d);
    const changes = trees.flatMap(diffTree);
    if (changes.length > 0) writeTrees(trees, (d) => d);
    if (!args.quiet) print.out(`rendered ${what} → ${outDir}/${secrets ? ` and ${secretsDir}/` : ""} (${summarise(changes)}) in ${seconds} s`);
    return 0;
  } catch (e) {
    if (secretValues.size === 0) learn();
    if (e instanceof GenError) {
      for (const p of e.problems) print.err(`${print.red("error:")} ${print.bold(formatProblem(p))}`);
      if (e.problems.length > 1) print.err(`${e.problems.length} problems; nothing was written`);
      else if (e.exitCode === 1) print.err("nothing was written");
      return e.exitCode;
    }
    const err = e as Error;
    print.err(`${print.red("error:")} internal error: ${err.message}. Nothing was written. Please report this.`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
