// Replacing out/ and secrets/ under attack: runs killed at every step of the swap, runs racing for
// the lock, Ctrl-C, hidden folders of dead runs, modes that drifted. A test-only hook
// (GEN_MANIFESTS_TEST_HOOK=kill@STEP or pause@STEP:MS) stops a run between two steps.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CLI, makeChart, runCli, runCliHere, SECRET_TEMPLATE, snapshot, tmpDir, WEB_TEMPLATE } from "./helpers";

const TEMPLATES = { "web.yaml.hbs": WEB_TEMPLATE, "secret.yaml.hbs": SECRET_TEMPLATE };
/** Every step of a render that writes out/ (0) and secrets/ (1), in order. */
const STEPS = ["locked", "staged", "journaled", "moved-aside-0", "swapped-0", "moved-aside-1", "swapped-1", "committed", "cleaned"];

interface Folders {
  out: Record<string, string>;
  secrets: Record<string, string>;
}
const folders = (cwd: string): Folders => ({ out: snapshot(path.join(cwd, "out")), secrets: snapshot(path.join(cwd, "secrets")) });
/** What gen-manifests left beside the folders: hidden staged copies, earlier versions, journals. */
const hidden = (cwd: string): string[] => fs.readdirSync(cwd).filter((f) => f.startsWith("."));

/** A chart rendered once ("old"), then changed so that both out/ and secrets/ change ("new"), with both versions' folders. */
function changedChart(): { cwd: string; old: Folders; fresh: Folders } {
  const cwd = makeChart(TEMPLATES, { name: "web", password: "old-password" });
  const reference = tmpDir("gm-reference-");
  fs.cpSync(cwd, reference, { recursive: true });
  const change = (dir: string): void => {
    fs.writeFileSync(path.join(dir, "params.json"), JSON.stringify({ name: "web", password: "new-password" }));
    fs.appendFileSync(path.join(dir, "kubernetes-in", "web.yaml.hbs"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n");
  };
  assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd }).status, 0);
  const old = folders(cwd);
  change(cwd);
  change(reference);
  assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd: reference }).status, 0);
  return { cwd, old, fresh: folders(reference) };
}

/** apply.sh --dry-run against a kubectl that does nothing: 0 when it would apply, 1 when it refuses; undefined when there is no apply.sh. */
function applyCheck(cwd: string): { status: number | null; stderr: string } | undefined {
  const script = path.join(cwd, "out", "apply.sh");
  if (!fs.existsSync(script)) return undefined;
  const r = spawnSync("sh", [script, "--dry-run"], { encoding: "utf8", env: { ...process.env, KUBECTL: "true" } });
  return { status: r.status, stderr: r.stderr };
}

interface Running {
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>;
  /** Resolves when the run says it paused at its step. */
  paused: Promise<void>;
  pid: number;
}

function start(cwd: string, args: string[], env: Record<string, string> = {}): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
  let stderr = "";
  let onPause: () => void = () => undefined;
  const paused = new Promise<void>((resolve) => (onPause = resolve));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.includes("gen-manifests: paused at")) onPause();
  });
  child.stdout.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }>((resolve) =>
    child.on("close", (code, signal) => {
      onPause();
      resolve({ code, signal, stderr, ms: Date.now() - started });
    }),
  );
  return { done, paused, pid: child.pid! };
}

// No timing in these (the hook kills the run at its step): they run side by side.
describe("the swap, killed at every step", { concurrency: 3 }, () => {
  for (const step of STEPS) {
    it(`killed (SIGKILL) at ${step}: never a mix that apply.sh accepts; every later command sees each folder whole; the next run succeeds and leaves nothing hidden`, async () => {
      const { cwd, old, fresh } = changedChart();
      const run = await start(cwd, ["--params", "params.json"], { GEN_MANIFESTS_TEST_HOOK: `kill@${step}` }).done;
      assert.equal(run.signal, "SIGKILL", `the run reached ${step}: ${run.stderr}`);
      // Straight after the kill, before any command: apply.sh applies one run's pair, or refuses.
      const applied = applyCheck(cwd);
      if (applied?.status === 0) assert.ok([JSON.stringify(old), JSON.stringify(fresh)].includes(JSON.stringify(folders(cwd))), "apply.sh accepted a mix");
      else if (applied) assert.match(applied.stderr, /was not written with this folder|secrets folder \S+ is missing/);
      // A reader first puts back what the killed run left half done: old or new, each whole, one pair.
      const check = runCliHere(["--params", "params.json", "--check"], { cwd });
      const seen = folders(cwd);
      const pair = JSON.stringify(seen) === JSON.stringify(old) ? "old" : JSON.stringify(seen) === JSON.stringify(fresh) ? "new" : "mixed";
      assert.notEqual(pair, "mixed", `after --check: ${JSON.stringify(Object.keys(seen.out))} ${JSON.stringify(Object.keys(seen.secrets))}`);
      assert.equal(check.status, pair === "new" ? 0 : 1, check.stderr);
      // Until the journal is gone the swap is undone; once it is, the new pair stands.
      assert.equal(pair, STEPS.indexOf(step) >= STEPS.indexOf("committed") ? "new" : "old");
      assert.equal(applyCheck(cwd)?.status, 0);
      assert.deepEqual(hidden(cwd), [], "the reader removed the dead run's hidden folders");
      const next = runCliHere(["--params", "params.json", "--quiet"], { cwd });
      assert.equal(next.status, 0, next.all);
      assert.deepEqual(folders(cwd), fresh);
      assert.deepEqual(hidden(cwd), []);
    });
  }

  it("killed between the two renames of out/, the next render (not only a reader) puts it back first", async () => {
    const { cwd, fresh } = changedChart();
    const run = await start(cwd, ["--params", "params.json"], { GEN_MANIFESTS_TEST_HOOK: "kill@moved-aside-0" }).done;
    assert.equal(run.signal, "SIGKILL");
    assert.equal(fs.existsSync(path.join(cwd, "out")), false, "the window the journal covers: out/ is aside");
    assert.ok(hidden(cwd).some((f) => f.endsWith(".gen-manifests-journal")));
    assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd }).status, 0);
    assert.deepEqual(folders(cwd), fresh);
    assert.deepEqual(hidden(cwd), []);
  });

  it("a first run killed before it commits leaves no folder (as before it), and no hidden one after the next command", async () => {
    const cwd = makeChart(TEMPLATES, { name: "web", password: "p" });
    const run = await start(cwd, ["--params", "params.json"], { GEN_MANIFESTS_TEST_HOOK: "kill@swapped-1" }).done;
    assert.equal(run.signal, "SIGKILL");
    const plan = runCliHere(["plan", "--params", "params.json"], { cwd });
    assert.equal(plan.status, 0, plan.all);
    assert.deepEqual(fs.readdirSync(cwd).filter((f) => f === "out" || f === "secrets" || f.startsWith(".")), []);
  });
});

describe("journals: followed only when this user's run wrote them", () => {
  it("a journal naming other folders, other paths, or owned by another user is refused, and nothing is touched", () => {
    const { cwd, old } = changedChart();
    const victim = path.join(cwd, "victim");
    fs.mkdirSync(victim);
    fs.writeFileSync(path.join(victim, "precious.txt"), "keep me\n");
    const journal = path.join(cwd, ".out.gen-manifests-journal");
    const swap = (dir: string, staged: string, aside: string) => ({ swaps: [{ dir, staged, old: aside, hadOld: false }] });
    const cases: { journal: object; message: RegExp; root?: boolean }[] = [
      { journal: swap(victim, path.join(cwd, ".victim.new-abcdef"), path.join(cwd, ".victim.old-abcdef")), message: /a run that was interrupted was also replacing \S*victim/ },
      { journal: swap(path.join(cwd, "out"), victim, path.join(cwd, ".out.old-abcdef")), message: /\.out\.gen-manifests-journal beside it is not a journal gen-manifests wrote/ },
      { journal: swap(path.join(cwd, "out"), path.join(cwd, ".out.new-abcdef"), path.join(cwd, ".out.old-abcdef")), message: /belongs to another user/, root: true },
    ];
    for (const c of cases) {
      if (c.root && process.getuid?.() !== 0) continue;
      fs.writeFileSync(journal, JSON.stringify(c.journal));
      if (c.root) fs.chownSync(journal, 65534, 65534);
      for (const args of [["--params", "params.json"], ["--params", "params.json", "--check"]]) {
        const r = runCliHere(args, { cwd });
        assert.equal(r.status, 1, r.all);
        assert.match(r.stderr, c.message);
      }
      assert.equal(fs.readFileSync(path.join(victim, "precious.txt"), "utf8"), "keep me\n");
      assert.deepEqual(folders(cwd), old);
      fs.rmSync(journal);
    }
  });
});

describe("the lock: released by the kernel when its holder dies", () => {
  it("a second run waits for the first and then writes its own output whole: both succeed, one after the other", async () => {
    const { cwd, fresh } = changedChart();
    fs.writeFileSync(path.join(cwd, "first.json"), JSON.stringify({ name: "web", password: "first" }));
    const first = start(cwd, ["--params", "first.json", "--quiet"], { GEN_MANIFESTS_TEST_HOOK: "pause@staged:1500" });
    await first.paused;
    const second = start(cwd, ["--params", "params.json", "--quiet"]);
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(folders(cwd), fresh, "the second run's output, whole");
    assert.deepEqual(hidden(cwd), []);
  });

  it("a run that cannot get the lock in time refuses and changes nothing; the holder's output stands", async () => {
    const { cwd, old } = changedChart();
    const holder = start(cwd, ["--params", "params.json", "--quiet"], { GEN_MANIFESTS_TEST_HOOK: "pause@locked:60000" });
    await holder.paused;
    for (const args of [["--params", "params.json"], ["--params", "params.json", "--check"], ["diff", "--params", "params.json"]]) {
      const r = runCli(args, { cwd, env: { GEN_MANIFESTS_TEST_LOCK_WAIT_MS: "200" } });
      assert.equal(r.status, 1, r.all);
      assert.match(r.stderr, /^error: out: another gen-manifests run is writing this folder \(waited 0\.2 s\); try again when it has finished$/m);
    }
    assert.deepEqual(folders(cwd), old);
    process.kill(holder.pid, "SIGKILL");
    await holder.done;
  });

  it("a holder killed with SIGKILL never blocks: the next run takes the lock at once", async () => {
    const { cwd, fresh } = changedChart();
    const holder = start(cwd, ["--params", "params.json"], { GEN_MANIFESTS_TEST_HOOK: "pause@staged:60000" });
    await holder.paused;
    process.kill(holder.pid, "SIGKILL");
    await holder.done;
    const started = Date.now();
    const r = runCli(["--params", "params.json", "--quiet"], { cwd, env: { GEN_MANIFESTS_TEST_LOCK_WAIT_MS: "1000" } });
    assert.equal(r.status, 0, r.all);
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(folders(cwd), fresh);
    assert.deepEqual(hidden(cwd), [], "the dead run's staged folders (with its secrets) are gone");
  });

  it("two runs taking over a dead holder's lock at once: one after the other, the last one's output whole", async () => {
    const { cwd } = changedChart();
    fs.writeFileSync(path.join(cwd, "other.json"), JSON.stringify({ name: "web", password: "other-password" }));
    const holder = start(cwd, ["--params", "params.json"], { GEN_MANIFESTS_TEST_HOOK: "pause@journaled:60000" });
    await holder.paused;
    process.kill(holder.pid, "SIGKILL");
    await holder.done;
    // Each racer pauses once it holds the lock: were the lock shared, both would be inside at once.
    const racers = ["params.json", "other.json"].map((p) => start(cwd, ["--params", p, "--quiet"], { GEN_MANIFESTS_TEST_HOOK: "pause@locked:1000" }));
    const results = await Promise.all(racers.map((r) => r.done));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const [first, second] = results.map((r) => r.ms);
    assert.ok(Math.max(first, second) - Math.min(first, second) >= 600, `one after the other: ${first} ms and ${second} ms`);
    assert.equal(applyCheck(cwd)?.status, 0, "one run's pair");
    assert.deepEqual(hidden(cwd), []);
  });

  it("a reader never sees out/ missing in the middle of a swap: --check waits for the lock", async () => {
    const { cwd } = changedChart();
    const writer = start(cwd, ["--params", "params.json", "--quiet"], { GEN_MANIFESTS_TEST_HOOK: "pause@moved-aside-0:3000" });
    await writer.paused;
    assert.equal(fs.existsSync(path.join(cwd, "out")), false, "the window: out/ is aside");
    const check = runCliHere(["--params", "params.json", "--check"], { cwd });
    assert.equal(check.status, 0, check.all);
    assert.match(check.stdout, /^out\/ is up to date/);
    assert.equal((await writer.done).code, 0);
  });

  it("is one lock per folder, however its path is spelled", async () => {
    const { cwd, old } = changedChart();
    fs.mkdirSync(path.join(cwd, "sub"));
    fs.symlinkSync(cwd, path.join(cwd, "link"));
    const holder = start(cwd, ["--params", "params.json", "--quiet"], { GEN_MANIFESTS_TEST_HOOK: "pause@locked:60000" });
    await holder.paused;
    for (const out of ["sub/../out", path.join(cwd, "link", "out")]) {
      const r = runCli(["--params", "params.json", "--out", out, "--secrets-out", "elsewhere"], { cwd, env: { GEN_MANIFESTS_TEST_LOCK_WAIT_MS: "200" } });
      assert.equal(r.status, 1, r.all);
      assert.match(r.stderr, /another gen-manifests run is writing this folder/);
    }
    assert.deepEqual(folders(cwd), old);
    process.kill(holder.pid, "SIGKILL");
    await holder.done;
  });
});

describe("Ctrl-C and SIGTERM while writing", () => {
  const cases = [["SIGINT", 130, "staged"], ["SIGTERM", 143, "journaled"], ["SIGTERM", 143, "moved-aside-0"]] as const;
  for (const [signal, code, step] of cases) {
    it(`${signal} at ${step}: the swap finishes whole, no temporary folder is left, exit ${code}`, async () => {
      const { cwd, fresh } = changedChart();
      const run = start(cwd, ["--params", "params.json", "--quiet"], { GEN_MANIFESTS_TEST_HOOK: `pause@${step}:2000` });
      await run.paused;
      process.kill(run.pid, signal);
      const r = await run.done;
      assert.equal(r.code, code, r.stderr);
      assert.deepEqual(folders(cwd), fresh);
      assert.deepEqual(hidden(cwd), []);
      assert.equal(applyCheck(cwd)?.status, 0);
    });
  }

  it("a later run, or a reader, removes the hidden folders of runs that died, with the secrets in them", () => {
    const { cwd } = changedChart();
    for (const name of [".out.new-abc123", ".secrets.new-def456", ".secrets.old-def456", ".out.gen-manifests-journal.4242"]) {
      fs.mkdirSync(path.join(cwd, name));
      fs.writeFileSync(path.join(cwd, name, "20-secret-web-secret.yaml"), "stringData:\n  password: old-password\n");
    }
    assert.equal(runCliHere(["--params", "params.json", "--check"], { cwd }).status, 1);
    assert.deepEqual(hidden(cwd), []);
    fs.mkdirSync(path.join(cwd, ".secrets.old-aaaaaa"));
    assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd }).status, 0);
    assert.deepEqual(hidden(cwd), []);
  });
});

describe("modes that drifted", () => {
  it("are reported by --check and repaired by the next run: apply.sh without its execute bit, secrets readable by others", () => {
    const cwd = makeChart(TEMPLATES, { name: "web", password: "p" });
    assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd }).status, 0);
    const before = folders(cwd);
    fs.chmodSync(path.join(cwd, "out", "apply.sh"), 0o644);
    fs.chmodSync(path.join(cwd, "secrets"), 0o755);
    fs.chmodSync(path.join(cwd, "secrets", "20-secret-web-secret.yaml"), 0o644);
    fs.chmodSync(path.join(cwd, "secrets", ".gen-manifests"), 0o640);
    const check = runCliHere(["--params", "params.json", "--check"], { cwd });
    assert.equal(check.status, 1, check.all);
    assert.deepEqual(check.stderr.split("\n").filter((l) => l.startsWith("changed:")), [
      "changed: out/apply.sh",
      "changed: secrets",
      "changed: secrets/.gen-manifests",
      "changed: secrets/20-secret-web-secret.yaml",
    ]);
    const r = runCliHere(["--params", "params.json"], { cwd });
    assert.equal(r.status, 0, r.all);
    assert.deepEqual(folders(cwd), before);
    assert.equal(runCliHere(["--params", "params.json", "--check"], { cwd }).status, 0);
  });

  it("are not a change where git and the umask decide them: out/'s files and folder writable by the group", () => {
    const cwd = makeChart(TEMPLATES, { name: "web", password: "p" });
    assert.equal(runCliHere(["--params", "params.json", "--quiet"], { cwd }).status, 0);
    for (const f of fs.readdirSync(path.join(cwd, "out"))) fs.chmodSync(path.join(cwd, "out", f), f === "apply.sh" ? 0o775 : 0o664);
    fs.chmodSync(path.join(cwd, "out"), 0o775);
    const check = runCliHere(["--params", "params.json", "--check"], { cwd });
    assert.equal(check.status, 0, check.all);
  });
});
