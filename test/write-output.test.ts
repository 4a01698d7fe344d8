// Writing a folder: small folders are written on the main thread, large ones on a second thread.
// Both must give the same files, bytes and modes, and a failure on either side must leave the
// earlier folder as it was and nothing staged beside it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { WRITER_THREAD_MIN_FILES } from "../src/file-writer";
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
  for (const count of [3, WRITER_THREAD_MIN_FILES - 1, WRITER_THREAD_MIN_FILES, WRITER_THREAD_MIN_FILES * 2 + 7]) {
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

  it("writes two folders (out/ and secrets/) through one writer, when only together they make a large run", () => {
    const root = tmpDir("gm-write-two-");
    const out = plannedTree(path.join(root, "out"), WRITER_THREAD_MIN_FILES - 100);
    const secrets = plannedTree(path.join(root, "secrets"), 200, (i) => ({ content: `kind: Secret # ${i}\n`, mode: 0o600 }));
    secrets.dirMode = 0o700;
    replaceTrees([out, secrets], "/nonexistent-templates", (d) => d);
    assert.deepEqual(onDisk(out.dir), planned(out));
    assert.deepEqual(onDisk(secrets.dir), planned(secrets));
    assert.equal(fs.statSync(secrets.dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(root).sort(), ["out", "secrets"]);
  });

  for (const count of [5, WRITER_THREAD_MIN_FILES + 10]) {
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

  it("a failure while the second thread writes (a manifest that cannot be serialized) leaves nothing staged", () => {
    const dir = path.join(tmpDir("gm-write-throw-"), "out");
    const tree = plannedTree(dir, WRITER_THREAD_MIN_FILES * 2, (i) => ({
      mode: 0o644,
      get content(): string {
        if (i === WRITER_THREAD_MIN_FILES + 3) throw new Error("cannot serialize");
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
