// Writing a folder: the files, bytes and modes planned, and a failure anywhere leaves the earlier
// folder as it was and nothing staged beside it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { createFile } from "../src/file-writer";
import { MARKER_FILE, MARKER_TEXT } from "../src/stages/build-output";
import { replaceTrees } from "../src/stages/write-output";
import { GenError } from "../src/errors";
import type { OutputFile, OutputTree } from "../src/types";
import { tmpDir } from "./helpers";

const MODES = [0o644, 0o600, 0o755];

function plannedTree(dir: string, count: number, content: (i: number) => OutputFile = (i) => ({ content: `kind: ConfigMap # ${i}\n${"x".repeat(i % 700)}\n`, mode: MODES[i % 3] })): OutputTree {
  const files = new Map<string, OutputFile>([[MARKER_FILE, { content: MARKER_TEXT, mode: 0o644 }]]);
  for (let i = 0; i < count; i++) files.set(`${String(i).padStart(5, "0")}-object.yaml`, content(i));
  return { dir, files, dirMode: 0o755 };
}

/** Every file of a folder: content and permission bits. */
function onDisk(dir: string): Map<string, { content: string; mode: number }> {
  const files = new Map<string, { content: string; mode: number }>();
  for (const name of fs.readdirSync(dir).sort()) {
    files.set(name, { content: fs.readFileSync(path.join(dir, name), "utf8"), mode: fs.statSync(path.join(dir, name)).mode & 0o777 });
  }
  return files;
}

function planned(tree: OutputTree): Map<string, { content: string; mode: number }> {
  return new Map([...tree.files].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, f]) => [name, { content: f.content, mode: f.mode }]));
}

/** The folders beside a target: a failed run must leave no staged folder or lock. */
const siblings = (dir: string): string[] => fs.readdirSync(path.dirname(dir)).sort();

describe("writing an output folder", () => {
  for (const count of [3, 257]) {
    it(`writes ${count} files with their bytes and modes, into a new folder and over an earlier one`, () => {
      const dir = path.join(tmpDir("gm-write-"), "out");
      const first = plannedTree(dir, count);
      assert.equal(replaceTrees([first], "/nonexistent-templates", (d) => d).length, count + 1);
      assert.deepEqual(onDisk(dir), planned(first));
      // Over the earlier folder, with every file changed and one fewer.
      const second = plannedTree(dir, count - 1, (i) => ({ content: `kind: Secret # ${i}\n`, mode: MODES[(i + 1) % 3] }));
      replaceTrees([second], "/nonexistent-templates", (d) => d);
      assert.deepEqual(onDisk(dir), planned(second));
      assert.deepEqual(siblings(dir), ["out"]);
    });
  }

  for (const changing of [1, 100]) {
    it(`over an earlier folder (${changing} changed), a file that stays as it is keeps its inode and time stamps; the others are new`, () => {
      const dir = path.join(tmpDir("gm-write-keep-"), "out");
      const first = plannedTree(dir, changing + 20);
      replaceTrees([first], "/nonexistent-templates", (d) => d);
      const names = [...first.files.keys()].filter((n) => n !== MARKER_FILE);
      const [chmodded, linkedElsewhere, ...rest] = names;
      const changed = rest.slice(0, changing);
      const kept = rest.slice(changing);
      fs.chmodSync(path.join(dir, chmodded), 0o666);
      fs.linkSync(path.join(dir, linkedElsewhere), path.join(path.dirname(dir), "elsewhere.yaml"));
      const stat = (name: string): fs.Stats => fs.statSync(path.join(dir, name));
      const before = new Map(names.map((n) => [n, stat(n)]));
      const second = plannedTree(dir, changing + 20);
      for (const name of changed) second.files.set(name, { content: `kind: Changed # ${name}\n`, mode: 0o644 });
      replaceTrees([second], "/nonexistent-templates", (d) => d);
      assert.deepEqual(onDisk(dir), planned(second));
      assert.equal(kept.length, 18);
      for (const name of kept) {
        assert.equal(stat(name).ino, before.get(name)!.ino, `${name} kept`);
        assert.equal(stat(name).mtimeMs, before.get(name)!.mtimeMs);
        assert.equal(stat(name).nlink, 1, "the old folder is gone: no second link is left");
      }
      for (const name of [...changed, chmodded, linkedElsewhere]) assert.notEqual(stat(name).ino, before.get(name)!.ino, `${name} written anew`);
      assert.equal(fs.readFileSync(path.join(path.dirname(dir), "elsewhere.yaml"), "utf8"), first.files.get(linkedElsewhere)!.content, "a file linked from elsewhere is never written through");
    });
  }

  it("where a file cannot be linked (another user's, or a file system without links), it is copied, mode and all", () => {
    const dir = tmpDir("gm-write-copy-");
    fs.writeFileSync(path.join(dir, "old.yaml"), "kind: Old\n", { mode: 0o600 });
    fs.chmodSync(path.join(dir, "old.yaml"), 0o640);
    const cannotLink = { ...fs, linkSync: () => { throw Object.assign(new Error("operation not permitted"), { code: "EPERM" }); } } as typeof fs;
    createFile(cannotLink, 0o022, path.join(dir, "new.yaml"), null, path.join(dir, "old.yaml"));
    assert.equal(fs.readFileSync(path.join(dir, "new.yaml"), "utf8"), "kind: Old\n");
    assert.equal(fs.statSync(path.join(dir, "new.yaml")).mode & 0o777, 0o640);
    assert.notEqual(fs.statSync(path.join(dir, "new.yaml")).ino, fs.statSync(path.join(dir, "old.yaml")).ino);
    // Any other failure is the run's failure.
    const noSpace = { ...fs, linkSync: () => { throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" }); } } as typeof fs;
    assert.throws(() => createFile(noSpace, 0o022, path.join(dir, "other.yaml"), null, path.join(dir, "old.yaml")), /no space/);
  });

  it("writes two folders (out/ and secrets/) in one run", () => {
    const root = tmpDir("gm-write-two-");
    const out = plannedTree(path.join(root, "out"), 100);
    const secrets = plannedTree(path.join(root, "secrets"), 200, (i) => ({ content: `kind: Secret # ${i}\n`, mode: 0o600 }));
    secrets.dirMode = 0o700;
    replaceTrees([out, secrets], "/nonexistent-templates", (d) => d);
    assert.deepEqual(onDisk(out.dir), planned(out));
    assert.deepEqual(onDisk(secrets.dir), planned(secrets));
    assert.equal(fs.statSync(secrets.dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(root).sort(), ["out", "secrets"]);
  });

  for (const count of [5]) {
    it(`a file that cannot be created (${count} files) fails the run and leaves the earlier folder as it was`, () => {
      const dir = path.join(tmpDir("gm-write-fail-"), "out");
      const earlier = plannedTree(dir, 4);
      replaceTrees([earlier], "/nonexistent-templates", (d) => d);
      const tree = plannedTree(dir, count);
      // A name in a sub-folder that does not exist: creating it fails with ENOENT, late in the folder.
      tree.files.set("zz/not-a-folder.yaml", { content: "x\n", mode: 0o644 });
      assert.throws(
        () => replaceTrees([tree], "/nonexistent-templates", (d) => d),
        (e: unknown) => e instanceof GenError && /could not write \(ENOENT\); the earlier output is unchanged/.test(e.problems[0].message),
      );
      assert.deepEqual(onDisk(dir), planned(earlier));
      assert.deepEqual(siblings(dir), ["out"]);
    });
  }

  it("a failure while the files are written (a manifest that cannot be serialized) leaves nothing staged", () => {
    const dir = path.join(tmpDir("gm-write-throw-"), "out");
    const tree = plannedTree(dir, 200, (i) => ({
      mode: 0o644,
      get content(): string {
        if (i === 103) throw new Error("cannot serialize");
        return `n: ${i}\n`;
      },
    }));
    assert.throws(
      () => replaceTrees([tree], "/nonexistent-templates", (d) => d),
      (e: unknown) => e instanceof GenError && /cannot serialize/.test(e.problems[0].message),
    );
    assert.deepEqual(siblings(dir), []);
  });
});
