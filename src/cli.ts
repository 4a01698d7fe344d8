#!/usr/bin/env node
// gen-manifests: arguments → options → pipeline → disk. The only place that prints and exits.
import fg from "fast-glob";
import fs from "node:fs";
import path from "node:path";
import yargs, { Argv } from "yargs";
import { GenError, formatProblem } from "./errors";
import { PipelineResult, runPipeline } from "./pipeline";
import { type CompileCache, openCompileCache, type UserCompileCache } from "./compile-cache";
import { defaultSchemaFile, defaultTemplatesDir, PACKAGE_ROOT, readInputs, readParamsText, STDIN } from "./read-inputs";
import { parseParamsFile } from "./stages/load-params";
import { closestName } from "./closest-name";
import { completeWords, completionScript, CompletionSpecs, OptionSpec, Shell, SHELLS } from "./completion";
import { secretMasker } from "./mask-secrets";
import { secretParamNames, secretValuesOf, checkSchema } from "./stages/validate-params";
import { diffTree, driftedModes, readingFolders, readTree, replaceTrees } from "./stages/write-output";
import { DEFAULT_KUBE_VERSION } from "./stages/check-manifests";
import type { FileChange, ParamSchema, PlacedManifest } from "./types";
import { defaultSecretsDir, MARKER_FILE } from "./output-marker";

interface Printer {
  out(line: string): void;
  err(line: string): void;
  bold(s: string): string;
  red(s: string): string;
}

/** Whether --out - sent the objects through process.stdout: later lines to it then follow the same way, in order. */
let stdoutStreamUsed = false;

/** Something to wait on: nothing ever wakes it, so a wait on it is a pause. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * A line straight to the file descriptor: creating process.stdout or process.stderr (and the tty
 * module, to ask whether it is a terminal) costs several ms of a run that prints one line.
 */
function writeLine(fd: 1 | 2, text: string): void {
  if (fd === 1 && stdoutStreamUsed) {
    process.stdout.write(text);
    return;
  }
  const data = Buffer.from(text);
  for (let done = 0; done < data.length; ) {
    try {
      done += fs.writeSync(fd, data, done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return; // the reader has gone (| head): nothing more to say
      if (code !== "EAGAIN") throw e;
      // A non-blocking pipe that is full: wait for the reader.
      Atomics.wait(PAUSE, 0, 0, 5);
    }
  }
}

/** A terminal, as far as colours go: a character device (a terminal, or /dev/null, where colours harm nobody). */
function onTerminal(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}

/** Where the printer's lines go: the file descriptors, or (in tests of main) anywhere else. */
export type WriteLine = (fd: 1 | 2, text: string) => void;

function makePrinter(secretValues: Set<string>, write: WriteLine): Printer {
  const color = onTerminal(2) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  // Last line of defence: whatever is printed, no secret value gets through, in any spelling.
  const mask = secretMasker(secretValues);
  return {
    out: (line) => write(1, `${mask(line)}\n`),
    err: (line) => write(2, `${mask(line)}\n`),
    bold: (s) => (color ? `\x1b[1m${s}\x1b[22m` : s),
    red: (s) => (color ? `\x1b[31m${s}\x1b[39m` : s),
  };
}

const RENDER_OPTIONS = ["params", "set", "out", "secrets-out", "inline-secrets", "templates", "schema", "argocd", "kube-version", "output", "quiet", "verbose"];
const INIT_OPTIONS = ["upgrade", "database-host", "swift-auth-url", "swift-user", "swift-password", "swift-siteurl", "swift-region-name", "schema"];
const OPTION_NAMES = [...RENDER_OPTIONS, "check", "watch", ...INIT_OPTIONS, "help", "version"];
const KNOWN_FLAGS = new Set([...OPTION_NAMES, "p", "o", "q", "h", "w", ...OPTION_NAMES.map((o) => `no-${o}`)]);

function renderOptions(y: Argv) {
  return y
    .option("params", { alias: "p", type: "string", array: true, demandOption: true, describe: "parameters file: JSON or YAML, plain or a Heat stack's outputs; - reads standard input (repeatable; later files win)" })
    // `--params` followed by another option or by nothing: a usage error, not a render without parameters.
    .coerce("params", (files: string[]) => {
      if (files.length === 0 || files.some((f) => f === "")) throw new Error("--params needs a file name (or - for standard input)");
      return files;
    })
    .option("set", { type: "string", array: true, default: [] as string[], describe: "override one parameter: name=value, typed by the schema (repeatable)" })
    .option("out", { alias: "o", type: "string", default: "out", describe: "output folder (replaced whole on success); - prints the objects as one YAML stream instead, in apply order (render only)" })
    .option("secrets-out", { type: "string", describe: "folder for Secret manifests (default: beside the output folder, secrets/ for out/, NAME-secrets/ for NAME/)" })
    .option("inline-secrets", { type: "boolean", default: false, describe: "write Secrets into the output folder (for encrypted repositories)" })
    .option("templates", { type: "string", describe: "templates folder (default: ./kubernetes-in, else the shipped OpenStack set)" })
    .option("schema", { type: "string", describe: "parameters schema (default: params/schema.json beside the templates folder)" })
    .option("argocd", { type: "boolean", default: false, describe: "annotate Argo CD sync waves by phase, and make jobs Sync hooks" })
    .option("kube-version", { type: "string", default: DEFAULT_KUBE_VERSION, describe: "Kubernetes version the objects are for: fields behind a feature gate off by default there are errors" })
    .option("output", { type: "string", choices: ["text", "json"], default: "text", describe: "what to print: text for people, json for scripts" })
    .option("quiet", { alias: "q", type: "boolean", default: false, describe: "print nothing on success" })
    .option("verbose", { type: "boolean", default: false, describe: "also list the names in parameters files that are not declared parameters (ignored)" });
}

function renderCommandOptions(y: Argv) {
  return renderOptions(y)
    .option("check", { type: "boolean", default: false, describe: "write nothing; exit 1 and list the files that would change" })
    .option("watch", { alias: "w", type: "boolean", default: false, describe: "render, then again after every change to a template, parameters file or the schema (Ctrl-C stops)" });
}

function initParamsOptions(y: Argv) {
  return y
    .option("upgrade", { type: "boolean", describe: "add to an existing parameters file the secrets a newer schema requires, keeping every value it has" })
    .option("database-host", { type: "string", describe: "database server host name (the database URIs point at it); required unless --upgrade" })
    .option("swift-auth-url", { type: "string", describe: "object store Keystone URL" })
    .option("swift-user", { type: "string", describe: "object store user" })
    .option("swift-password", { type: "string", describe: "object store password" })
    .option("swift-siteurl", { type: "string", describe: "object store container URL: https://HOST/v1/TENANT/CONTAINER" })
    .option("swift-region-name", { type: "string", describe: "object store region (default: none)" })
    .option("schema", { type: "string", describe: "parameters schema (default: the shipped one)" });
}

function completionOptions(y: Argv) {
  return y.positional("shell", { type: "string", choices: [...SHELLS], describe: "bash, zsh or fish" });
}

/** Each command's options, as yargs declares them; its positional's values when they are a list. */
const COMMAND_OPTIONS: Record<string, { options: (y: Argv) => Argv; positional?: string; choices?: string[] }> = {
  render: { options: renderCommandOptions },
  diff: { options: renderOptions },
  plan: { options: renderOptions },
  "init-params": { options: initParamsOptions, positional: "file" },
  completion: { options: completionOptions, positional: "shell", choices: [...SHELLS] },
};

/** What completion needs to know of the commands, read from their yargs definitions. */
function completionSpecs(): CompletionSpecs {
  const specOf = (y: Argv): OptionSpec[] => {
    const o = (y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]>; boolean: string[]; array: string[]; choices: Record<string, string[]> } }).getOptions();
    const aliasOf = new Set(Object.values(o.alias).flat());
    return Object.keys(o.key)
      .filter((k) => !aliasOf.has(k))
      .map((name) => ({ name, aliases: o.alias[name] ?? [], takesValue: !o.boolean.includes(name), choices: o.choices[name], repeatable: o.array.includes(name) }));
  };
  const global = specOf(yargs([]).help().alias("help", "h").version("0"));
  const commands: CompletionSpecs["commands"] = {};
  for (const [name, c] of Object.entries(COMMAND_OPTIONS)) {
    const options = specOf(c.options(yargs([]))).filter((o) => !global.some((g) => g.name === o.name) && o.name !== c.positional);
    commands[name] = { options, hasPositional: c.positional !== undefined, positional: c.choices };
  }
  return { commands, defaultCommand: "render", global };
}

function parseArgs(argv: string[]) {
  const y = yargs(argv);
  // The terminal's width matters only to --help; reading it creates process.stdout (~3 ms).
  if (argv.includes("--help") || argv.includes("-h")) y.wrap(Math.min(110, process.stdout.columns ?? 100));
  return y
    .scriptName("gen-manifests")
    .usage("$0 [command] --params FILE [options]\n\nRenders the templates with the parameters into ordered Kubernetes manifests and an apply script.")
    .command(["render", "$0"], "render into the output folder (the default command)", (y) =>
      renderCommandOptions(y)
        .example("$0 --params params/example.json", "render the shipped OpenStack set into out/")
        .example("$0 --params mystack.json --set keystone_replicas=5", "with one parameter overridden")
        .example("$0 --params params/example.json --check", "in CI: fail when out/ is stale"),
    )
    .command("diff", "show what regenerating would change in the output folder; exit 1 if anything", (y) =>
      renderOptions(y).example("$0 diff --params mystack.json", "review a parameter change before committing it"),
    )
    .command("plan", "show the ordered rollout apply.sh will perform", (y) =>
      renderOptions(y).example("$0 plan --params mystack.json --output json", "the rollout, for a script"),
    )
    .command("init-params <file>", "write a new parameters file with freshly generated secrets, or --upgrade one", (y) =>
      initParamsOptions(y)
        .positional("file", { type: "string", describe: "file to create (.json for JSON, else YAML); never overwritten (but see --upgrade)" })
        .example("$0 init-params mystack.yaml --database-host db.example.com --swift-user me", "create the parameters without Heat")
        .example("$0 init-params --upgrade mystack.yaml", "add the parameters a newer gen-manifests requires"),
    )
    .command("completion [shell]", "print the tab completion script of a shell (default: $SHELL's): gen-manifests completion bash >> ~/.bashrc", (y) =>
      completionOptions(y)
        .example("$0 completion zsh >> ~/.zshrc", "complete commands, options and their values in zsh")
        .example("$0 completion fish > ~/.config/fish/completions/gen-manifests.fish", "the same in fish"),
    )
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw new GenError("usage", [{ message: suggest(msg ?? err?.message ?? "invalid arguments", argv) }], 2);
    })
    .help()
    .alias("help", "h")
    // Not yargs' own lookup, which reads the package.json of the folder the command runs in.
    .version((JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version);
}

const COMMANDS = ["render", "diff", "plan", "init-params", "completion"];

/** A mistyped command or option is the likeliest cause of any usage error, so it is named first. */
function suggest(message: string, argv: string[]): string {
  // In the command's place (as git reads it): a word that is no command, before yargs' complaint
  // that it is an unknown argument, or that the default command lacks --params.
  const word = argv[0];
  if (word !== undefined && !word.startsWith("-") && !COMMANDS.includes(word)) {
    const hint = closestName(word, COMMANDS);
    return `unknown command "${word}"${hint ? `; did you mean ${hint}?` : ""} (commands: ${COMMANDS.join(", ")}; see --help)`;
  }
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
    const schema = JSON.parse(fs.readFileSync(schemaPath ?? defaultSchemaFile(defaultTemplatesDir(process.cwd())), "utf8"));
    const names = secretParamNames(schema);
    for (const p of paramsPaths) {
      try {
        const { values } = parseParamsFile({ path: p, text: readParamsText(p) });
        for (const v of secretValuesOf(values, names)) into.add(v);
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

type Args = ReturnType<ReturnType<typeof parseArgs>["parseSync"]>;

interface Context {
  args: Args;
  /** The arguments as typed. */
  argv: string[];
  print: Printer;
  secretValues: Set<string>;
  seconds: () => string;
  /** The user's compile cache, opened when first asked for. */
  cache: () => CompileCache;
}

/** `--out -`: standard output instead of a folder. */
const TO_STDOUT = "-";

function render(ctx: Context): { result: PipelineResult; outDir: string; secretsDir: string; templatesDir: string } {
  if (ctx.args.out === TO_STDOUT && ctx.args._[0] !== undefined && ctx.args._[0] !== "render") {
    throw new GenError("usage", [{ message: `--out - (standard output) is for render; ${String(ctx.args._[0])} needs an output folder` }], 2);
  }
  const a = ctx.args as Args & { params: string[]; set: string[]; out: string; "secrets-out"?: string; "inline-secrets": boolean; argocd: boolean; templates?: string; schema?: string };
  const kubeVersion = /^v?(1\.\d+)(\.\d+)?$/.exec(String(ctx.args["kube-version"]))?.[1];
  if (!kubeVersion) throw new GenError("usage", [{ message: `--kube-version ${String(ctx.args["kube-version"])}: expected a Kubernetes version such as 1.32` }], 2);
  const inputs = readInputs({ params: a.params, templatesDir: a.templates, schemaFile: a.schema });
  const outDir = a.out;
  const secretsDir = a["secrets-out"] ?? defaultSecretsDir(outDir);
  const result = runPipeline({
    paramsFiles: inputs.paramsFiles,
    sets: a.set.map(String),
    schema: inputs.schema,
    schemaFile: inputs.schemaFile,
    templates: inputs.templates,
    outDir,
    secretsDir,
    inlineSecrets: a["inline-secrets"],
    argocd: a.argocd,
    kubeVersion,
    cache: ctx.cache(),
    secretValues: ctx.secretValues,
  });
  if (ctx.args.verbose) listIgnored(ctx.print, result.params.ignored ?? []);
  return { result, outDir, secretsDir, templatesDir: inputs.templatesDir };
}

/** --verbose: the undeclared names a Heat stack (or any file) carried, once, by file. */
function listIgnored(print: Printer, ignored: { name: string; file: string }[]): void {
  for (const file of [...new Set(ignored.map((i) => i.file))]) {
    const names = ignored.filter((i) => i.file === file).map((i) => i.name);
    print.err(`note: ${file}: ignored, not declared parameters: ${names.join(", ")}`);
  }
}

function fileOf(result: PipelineResult, outDir: string, secretsDir: string): (m: PlacedManifest) => string {
  return (m) => path.join(result.trees.secrets && m.isSecret ? secretsDir : outDir, m.fileName);
}

function runRender(ctx: Context): number {
  if (ctx.args.watch) return runWatch(ctx);
  if (ctx.args.out === TO_STDOUT) return runRenderToStdout(ctx);
  const { args, print } = ctx;
  const { result, outDir, secretsDir, templatesDir } = render(ctx);
  const { out, secrets } = result.trees;
  const json = args.output === "json";
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  const what = `${plural(result.manifests.length, "object")} from ${plural(result.templateCount, "template")}`;
  if (args.check) {
    // The committed folder's content; of the secrets folder, never committed, only modes that drifted open.
    const changes = readingFolders(secrets ? [outDir, secretsDir] : [outDir], (d) => d, () => [...diffTree(out), ...(secrets ? driftedModes(secrets) : [])]);
    if (json) print.out(JSON.stringify({ upToDate: changes.length === 0, changes }, null, 2));
    if (changes.length === 0) {
      if (!json && !args.quiet) print.out(`${outDir}/ is up to date (${what}) in ${ctx.seconds()} s`);
      return 0;
    }
    if (!json) {
      for (const c of changes) print.err(`${c.change}: ${c.file}`);
      print.err(`${print.red("error:")} ${outDir}/ is stale: ${summarise(changes)}; run ${regenerateCommand(ctx.argv)} to regenerate it`);
    }
    return 1;
  }
  const trees = secrets ? [out, secrets] : [out];
  exitOnSignalAfterWriting();
  const changes = replaceTrees(trees, templatesDir, (d) => d);
  if (json) {
    print.out(JSON.stringify({ objects: result.manifests.length, templates: result.templateCount, out: outDir, secrets: secrets ? secretsDir : null, changes, seconds: Number(ctx.seconds()) }, null, 2));
  } else if (!args.quiet) {
    print.out(`rendered ${what} → ${outDir}/${secrets ? ` and ${secretsDir}/` : ""} (${summarise(changes)}) in ${ctx.seconds()} s`);
  }
  return 0;
}

/** Whether --watch runs: it handles Ctrl-C itself. */
let watching = false;

/**
 * Ctrl-C or SIGTERM while the folders are written: the run is synchronous, so the signal is taken
 * once the write has finished (the folders swapped whole, or put back, and no temporary folder
 * left), and the run then exits 130 or 143. Before the write, nothing is on disk to clean up, and
 * the signal stops the run at once as usual.
 */
function exitOnSignalAfterWriting(): void {
  if (watching || process.listenerCount("SIGTERM") > 0) return;
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  // Signal handlers do not keep the process alive: one turn of the event loop after main takes a signal that came meanwhile.
  setImmediate(() => undefined);
}

/** The command line as typed, without --check: it writes what --check compared, and can be pasted. */
function regenerateCommand(argv: string[]): string {
  const quote = (a: string): string => (/^[A-Za-z0-9_./=:@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ["gen-manifests", ...argv.filter((a) => a !== "--check" && !a.startsWith("--check=")).map(quote)].join(" ");
}

/** `--out -`: the objects as one YAML stream on standard output, as `helm template` and `kustomize build` print them. */
function runRenderToStdout(ctx: Context): number {
  const { args, print } = ctx;
  if (args.check) throw new GenError("usage", [{ message: "--check compares with an output folder; it cannot be used with --out -" }], 2);
  const { result, secretsDir, templatesDir } = render(ctx);
  const { out, secrets } = result.trees;
  const inStream = result.manifests.filter((m) => out.files.has(m.fileName));
  // Not through the printer, which masks secret values: Secrets are here only if --inline-secrets asked for them.
  stdoutStreamUsed = true;
  process.stdout.write(inStream.map((m) => out.files.get(m.fileName)!.content).join("---\n"));
  const leftOut = result.manifests.length - inStream.length;
  const secretsOut = (args as { "secrets-out"?: string })["secrets-out"];
  if (secrets && secretsOut !== undefined) {
    exitOnSignalAfterWriting();
    replaceTrees([secrets], templatesDir, (d) => d);
  }
  if (!args.quiet) {
    const where = secretsOut !== undefined ? `written to ${secretsDir}/` : "left out (add --inline-secrets to print them, or --secrets-out DIR to write them)";
    print.err(`rendered ${inStream.length} object${inStream.length === 1 ? "" : "s"} to standard output in ${ctx.seconds()} s${leftOut ? `; ${leftOut} Secret${leftOut === 1 ? "" : "s"} ${where}` : ""}`);
  }
  return 0;
}

/**
 * `--watch`: renders now, and again 100 ms after the last change to a template, a parameters file
 * or the schema, until Ctrl-C; a failed render is reported and the watch goes on. Each line carries
 * the time, as `tsc --watch` prints it.
 */
function runWatch(ctx: Context): number {
  const a = ctx.args as Args & { params: string[]; templates?: string; schema?: string };
  if (a.out === TO_STDOUT) throw new GenError("usage", [{ message: "--watch keeps an output folder current; it cannot be used with --out -" }], 2);
  if (a.check) throw new GenError("usage", [{ message: "--watch renders on every change; it cannot be used with --check" }], 2);
  if (a.params.includes(STDIN)) throw new GenError("usage", [{ message: "--watch reads the parameters again on every change; it cannot read standard input" }], 2);
  watching = true;
  const json = a.output === "json";
  const stamp = (line: string): string => `[${new Date().toTimeString().slice(0, 8)}] ${line}`;
  // With --output json, standard output stays a stream of JSON documents, one a render.
  const print: Printer = { ...ctx.print, out: (line) => ctx.print.out(json ? line : stamp(line)), err: (line) => ctx.print.err(stamp(line)) };
  const renderOnce = (): void => {
    const started = process.hrtime.bigint();
    const seconds = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(2);
    try {
      runRender({ ...ctx, print, seconds, args: { ...a, watch: false } });
    } catch (e) {
      reportError(e, print, json);
    }
  };
  renderOnce();

  const templatesDir = a.templates ?? defaultTemplatesDir(process.cwd());
  const schemaFile = a.schema ?? defaultSchemaFile(templatesDir);
  let timer: NodeJS.Timeout | undefined;
  const changed = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      renderOnce();
      try {
        watchFolders(); // a folder of templates made since
      } catch (e) {
        reportError(e, print, json);
      }
    }, 100);
  };
  // Folders, not files, each on its own (Node 20's recursive watch misses files replaced by a
  // rename, which is how editors and sed -i save): the templates folder and its subfolders, and
  // the folders of the parameters files and the schema, for those names only.
  const watchers = new Map<string, fs.FSWatcher>();
  const watch = (dir: string, names?: Set<string>): void => {
    if (watchers.has(dir)) return;
    try {
      watchers.set(dir, fs.watch(dir, (_, name) => (!names || (name && names.has(String(name)))) && changed()));
    } catch (e) {
      throw new GenError("usage", [{ file: dir, message: `cannot be watched (${(e as NodeJS.ErrnoException).code})` }], 2);
    }
  };
  const watchFolders = (): void => {
    const root = path.resolve(templatesDir);
    if (!fs.existsSync(root)) return;
    watch(root);
    for (const sub of fg.sync("**/", { cwd: root, onlyDirectories: true, dot: false, followSymbolicLinks: false })) watch(path.join(root, sub));
  };
  watchFolders();
  const filesByDir = new Map<string, Set<string>>();
  for (const f of [...a.params, schemaFile].map((p) => path.resolve(p))) {
    filesByDir.set(path.dirname(f), (filesByDir.get(path.dirname(f)) ?? new Set<string>()).add(path.basename(f)));
  }
  for (const [dir, names] of filesByDir) watch(dir, names);
  const stop = (): void => {
    for (const w of watchers.values()) w.close();
    clearTimeout(timer);
    if (!a.quiet) print.err("stopped watching");
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (!a.quiet) print.err(`watching ${templatesDir}/, ${[...a.params, schemaFile].join(", ")} for changes (Ctrl-C stops)`);
  return 0;
}

function runDiff(ctx: Context): number {
  const { args, print } = ctx;
  const { result } = render(ctx);
  const trees = result.trees.secrets ? [result.trees.out, result.trees.secrets] : [result.trees.out];
  const { diffOutput } = require("./stages/diff-output") as typeof import("./stages/diff-output");
  const onDisk = readingFolders(trees.map((t) => t.dir), (d) => d, () => new Map(trees.map((t) => [t.dir, readTree(t.dir)])));
  // The markers change with out/ and name no object: listing them would only add noise.
  const changes = diffOutput(trees, onDisk).filter((c) => path.basename(c.file) !== MARKER_FILE);
  if (args.output === "json") {
    print.out(JSON.stringify({ changed: changes.length > 0, changes }, null, 2));
  } else if (changes.length === 0) {
    if (!args.quiet) print.out("no changes");
  } else {
    for (const c of changes) print.out(`${c.change.padEnd(8)} ${c.object ?? "(not an object)"}  ${c.file}`);
    for (const c of changes) if (c.patch) print.out(`\n${c.patch.trimEnd()}`);
  }
  return changes.length > 0 ? 1 : 0;
}

function runPlan(ctx: Context): number {
  const { planJson, planText } = require("./stages/describe-plan") as typeof import("./stages/describe-plan");
  const { result, outDir, secretsDir } = render(ctx);
  // Reads nothing of the folders, but leaves them as every command does: no swap half done.
  readingFolders(result.trees.secrets ? [outDir, secretsDir] : [outDir], (d) => d, () => undefined);
  const files = fileOf(result, outDir, secretsDir);
  ctx.print.out(ctx.args.output === "json" ? JSON.stringify(planJson(result.plan, files), null, 2) : planText(result.plan, files));
  return 0;
}

function runInitParams(ctx: Context): number {
  const a = ctx.args as Args & { file: string; schema?: string } & Record<string, string | undefined>;
  const schemaFile = a.schema ?? defaultSchemaFile(defaultTemplatesDir(process.cwd()));
  let schemaText: string;
  try {
    schemaText = fs.readFileSync(schemaFile, "utf8");
  } catch {
    throw new GenError("usage", [{ file: schemaFile, message: "no such schema file (set --schema)" }], 2);
  }
  const schema = checkSchema(JSON.parse(schemaText), schemaFile);
  if (a.upgrade) return runUpgradeParams(ctx, schema, a.file);
  if (typeof a["database-host"] !== "string") throw new GenError("usage", [{ message: "init-params needs --database-host (or --upgrade FILE)" }], 2);
  const supplied: Record<string, string> = {};
  for (const flag of INIT_OPTIONS.filter((o) => o !== "schema" && o !== "upgrade")) if (typeof a[flag] === "string") supplied[flag.replace(/-/g, "_")] = a[flag] as string;
  const { formatParamsFile, initParams } = require("./stages/init-params") as typeof import("./stages/init-params");
  const result = initParams({ schema, supplied });
  try {
    fs.writeFileSync(a.file, formatParamsFile(result, a.file.endsWith(".json")), { mode: 0o600, flag: "wx" });
    fs.chmodSync(a.file, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GenError("write-output", [{ file: a.file, message: code === "EEXIST" ? "already exists; init-params never overwrites a file (remove it first)" : `could not be written (${code})` }]);
  }
  const secretNames = secretParamNames(schema);
  const secrets = Object.keys(result.values).filter((k) => secretNames.has(k) && !(k in supplied)).length;
  ctx.print.out(`wrote ${a.file} (mode 0600): ${Object.keys(result.values).length} parameters, ${secrets} secrets generated`);
  if (result.placeholders.length) ctx.print.out(`fill in before use: ${result.placeholders.join(", ")}`);
  return 0;
}

/** `init-params --upgrade FILE`: the file rewritten in place (a new file renamed over it), mode 0600. */
function runUpgradeParams(ctx: Context, schema: ParamSchema, file: string): number {
  const { upgradeParams } = require("./stages/init-params") as typeof import("./stages/init-params");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new GenError("usage", [{ file, message: `cannot be read (${(e as NodeJS.ErrnoException).code})` }], 2);
  }
  const result = upgradeParams({ schema, file: { path: file, text } });
  if (result.added.length || result.rewritten.length) {
    const temporary = `${file}.gen-manifests-${process.pid}`;
    try {
      fs.writeFileSync(temporary, result.text, { mode: 0o600, flag: "wx" });
      fs.renameSync(temporary, file);
    } catch (e) {
      fs.rmSync(temporary, { force: true });
      throw new GenError("write-output", [{ file, message: `could not be written (${(e as NodeJS.ErrnoException).code})` }]);
    }
  }
  ctx.print.out(result.added.length ? `added to ${file}: ${result.added.join(", ")} (secrets generated)` : `${file}: no parameter to add`);
  if (result.rewritten.length) ctx.print.out(`moved to the PyMySQL driver (mysql+pymysql://): ${result.rewritten.join(", ")}`);
  if (result.missing.length) ctx.print.out(`still to add by hand: ${result.missing.join(", ")}`);
  return 0;
}

/** yargs reads a lone `-` as a positional argument: after --params or --out, it is the option's value. */
function dashAsValue(argv: string[]): string[] {
  const out: string[] = [];
  const options: Record<string, string> = { "--params": "params", "-p": "params", "--out": "out", "-o": "out" };
  for (const a of argv) {
    const previous = options[out[out.length - 1]];
    if (a === "-" && previous) out[out.length - 1] = `--${previous}=-`;
    else out.push(a);
  }
  return out;
}

/** The words to offer for a half-typed command line: `--get-yargs-completions PROGRAM WORD...`, the last being completed. */
function printCompletions(argv: string[], print: Printer): number {
  const words = argv.slice(argv.indexOf("--get-yargs-completions") + 2);
  for (const word of completeWords(words, completionSpecs())) print.out(word);
  return 0;
}

/** `completion [shell]`: the script of the shell named, or of the user's login shell, else bash's. */
function printCompletionScript(shell: string | undefined, print: Printer): number {
  const login = path.basename(process.env.SHELL ?? "");
  const chosen = (shell ?? (SHELLS as readonly string[]).find((s) => s === login) ?? "bash") as Shell;
  print.out(completionScript(chosen).trimEnd());
  return 0;
}

/** What the launcher needs of a run. */
export interface RunOutcome {
  exitCode: number;
  /**
   * Whether the run generated code into the compile cache: its functions then include ajv's and
   * Handlebars' compilers, which a warm run never calls, so it is no sample for the CLI's code cache.
   */
  generatedCode: boolean;
}

export function main(argv: string[], write: WriteLine = writeLine): number {
  return run(argv, write).exitCode;
}

export function run(argv: string[], write: WriteLine = writeLine): RunOutcome {
  let cache: UserCompileCache | undefined;
  const exitCode = runCommand(argv, write, () => (cache ??= openCompileCache()));
  return { exitCode, generatedCode: cache?.wrote ?? false };
}

function runCommand(argv: string[], write: WriteLine, cache: () => CompileCache): number {
  const started = process.hrtime.bigint();
  const secretValues = new Set<string>();
  const print = makePrinter(secretValues, write);
  let learn = (): void => undefined;
  try {
    // The shell asks for completions as the user types: yargs prints them; nothing is checked.
    if (argv.includes("--get-yargs-completions")) return printCompletions(argv, print);
    const args = parseArgs(dashAsValue(argv)).parseSync();
    if (args.help || args.version) return 0;
    if (args._[0] === "completion") return printCompletionScript(args.shell as string | undefined, print);
    if (Array.isArray(args.params)) learn = () => learnSecrets(args.params as string[], args.schema as string | undefined, secretValues);
    const ctx: Context = { args, argv, print, secretValues, seconds: () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(2), cache };
    switch (args._[0]) {
      case "diff":
        return runDiff(ctx);
      case "plan":
        return runPlan(ctx);
      case "init-params":
        return runInitParams(ctx);
      default:
        return runRender(ctx);
    }
  } catch (e) {
    if (secretValues.size === 0) learn();
    return reportError(e, print, argv.some((a, i) => a === "--output=json" || (a === "--output" && argv[i + 1] === "json")));
  }
}

/** Prints a failure and returns its exit status. With `json`, a script reads the problems from standard output; people still read stderr. */
function reportError(e: unknown, print: Printer, json: boolean): number {
  if (e instanceof GenError) {
    if (json) print.out(JSON.stringify({ stage: e.stage, exitCode: e.exitCode, problems: e.problems }, null, 2));
    for (const p of e.problems) print.err(`${print.red("error:")} ${print.bold(formatProblem(p))}`);
    if (e.problems.length > 1) print.err(`${e.problems.length} problems; nothing was written`);
    else if (e.exitCode === 1) print.err("nothing was written");
    return e.exitCode;
  }
  const message = `internal error: ${(e as Error).message}. Nothing was written. Please report this.`;
  if (json) print.out(JSON.stringify({ stage: "internal", exitCode: 1, problems: [{ message }] }, null, 2));
  print.err(`${print.red("error:")} ${message}`);
  return 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
