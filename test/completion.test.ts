// Tab completion as each shell runs it: the script `gen-manifests completion SHELL` prints is
// loaded into a real bash, zsh or fish, which then asks the binary (on PATH, as installed) for the
// words of a half-typed command line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CLI, runCli, tmpDir } from "./helpers";

const has = (shell: string): boolean => spawnSync(shell, ["-c", "exit 0"]).status === 0;

/** A folder with `gen-manifests` in it, and the script of `shell` written beside it. */
function installed(shell: string): { env: NodeJS.ProcessEnv; script: string } {
  const bin = tmpDir("gm-completion-");
  fs.writeFileSync(path.join(bin, "gen-manifests"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
  const r = runCli(["completion", shell]);
  assert.equal(r.status, 0, r.all);
  assert.equal(r.stderr, "");
  const script = path.join(bin, `completion.${shell}`);
  fs.writeFileSync(script, r.stdout);
  return { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: bin, XDG_CONFIG_HOME: bin }, script };
}

/** Command lines (the cursor at their end) and what completing them offers. */
const CASES: { line: string; offers: string[] }[] = [
  { line: "gen-manifests --pa", offers: ["--params"] },
  { line: "gen-manifests --params p.json --ou", offers: ["--out", "--output"] },
  { line: "gen-manifests --output ", offers: ["text", "json"] },
  { line: "gen-manifests di", offers: ["diff"] },
  { line: "gen-manifests plan --output j", offers: ["json"] },
  { line: "gen-manifests init-params x.yaml --swift-r", offers: ["--swift-region-name"] },
  { line: "gen-manifests completion ", offers: ["bash", "zsh", "fish"] },
  { line: "gen-manifests diff --che", offers: [] },
];

describe("completion: the script of each shell is its own, and nothing else", () => {
  /** A word only each shell's script has. */
  const own = { bash: "COMP_WORDS", zsh: "compdef", fish: "commandline -ct" };
  for (const shell of ["bash", "zsh", "fish"] as const) {
    it(shell, () => {
      const r = runCli(["completion", shell]);
      assert.equal(r.status, 0, r.all);
      assert.equal(r.stderr, "");
      for (const [other, word] of Object.entries(own)) assert.equal(r.stdout.includes(word), other === shell, `${other}'s "${word}" in the ${shell} script`);
    });
  }

  it("without a shell, the login shell's ($SHELL), else bash's", () => {
    assert.match(runCli(["completion"], { env: { SHELL: "/usr/bin/zsh" } }).stdout, /^#compdef gen-manifests$/m);
    assert.match(runCli(["completion"], { env: { SHELL: "/bin/sh" } }).stdout, /COMP_WORDS/);
  });

  it("an unknown shell is a usage error, exit 2", () => {
    const r = runCli(["completion", "ksh"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /"ksh".*"bash", "zsh", "fish"/);
  });
});

describe("completion in bash", { skip: !has("bash") && "bash is not installed" }, () => {
  const { env, script } = installed("bash");
  for (const c of CASES) {
    it(`${c.line}<TAB> offers ${c.offers.join(" ") || "file names"}`, () => {
      // What bash does on TAB: COMP_WORDS split at its word breaks (so --output=json is three words).
      const program = `source "${script}"
read -r -a COMP_WORDS <<< "$LINE"
[[ $LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
fn=$(complete -p gen-manifests | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
$fn gen-manifests
printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync("bash", ["-c", program], { env: { ...env, LINE: c.line }, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.split("\n").filter(Boolean), c.offers);
    });
  }

  it("--output=<TAB>, split by bash at the =, offers the values alone", () => {
    const program = `source "${script}"; COMP_WORDS=(gen-manifests --output = j); COMP_CWORD=3; _gen_manifests_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync("bash", ["-c", program], { env, encoding: "utf8" });
    assert.equal(r.stdout, "json\n", r.stderr);
  });

  it("a value with no list of its own (a parameters file) is left to bash's file names", () => {
    const r = spawnSync("bash", ["-c", `source "${script}"; complete -p gen-manifests`], { env, encoding: "utf8" });
    assert.match(r.stdout, /-o default/);
  });
});

describe("completion in zsh", { skip: !has("zsh") && "zsh is not installed" }, () => {
  const { env, script } = installed("zsh");
  for (const c of CASES) {
    it(`${c.line}<TAB> offers ${c.offers.join(" ") || "file names"}`, () => {
      // The script's function as the completion system calls it: $words and $CURRENT set, and
      // compadd and _files (builtins of that system) recording what they are given.
      const program = `compdef() { registered="$*" }
source "${script}"
[[ $registered == "_gen_manifests_completions gen-manifests" ]] || { print -u2 "not registered: $registered"; exit 3 }
compadd() { while [[ $1 == -* ]]; do [[ $1 == -- ]] && { shift; break }; shift; done; print -rl -- "$@" }
_files() { print -r -- "(files)" }
words=(\${(z)LINE})
[[ $LINE == *" " ]] && words+=("")
CURRENT=\${#words}
_gen_manifests_completions`;
      const r = spawnSync("zsh", ["-f", "-c", program], { env: { ...env, LINE: c.line }, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.split("\n").filter(Boolean), c.offers.length ? c.offers : ["(files)"]);
    });
  }
});

describe("completion in fish", { skip: !has("fish") && "fish is not installed" }, () => {
  const { env, script } = installed("fish");
  for (const c of CASES) {
    it(`${c.line}<TAB> offers ${c.offers.join(" ") || "file names"}`, () => {
      // fish's own completion engine: complete -C completes a command line as TAB would.
      const r = spawnSync("fish", ["--no-config", "-c", `source "${script}"; complete -C "$LINE"`], { env: { ...env, LINE: c.line }, encoding: "utf8", cwd: tmpDir() });
      assert.equal(r.status, 0, r.stderr);
      // fish sorts what it offers.
      assert.deepEqual(r.stdout.split("\n").filter(Boolean), [...c.offers].sort());
    });
  }
});
