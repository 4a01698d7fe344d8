// The other end of the pipeline: compares the planned folders with the disk and replaces them.
// A folder is replaced whole (built beside it, then renamed into place) under a lock, so a failed
// or concurrent run never leaves a mix; and only folders gen-manifests made are ever deleted from.
import fs from "node:fs";
import path from "node:path";
import { GenError, Problem } from "../errors";
import type { FileChange, OutputTree } from "../types";
import { FileWriter, openFileWriter } from "../file-writer";
import { MARKER_FILE } from "./build-output";

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** Refuses, before anything is written, every target that is not safe to replace. */
export function checkTargets(trees: OutputTree[], templatesDir: string, displayName: (dir: string) => string): void {
  const problems: Problem[] = [];
  const templates = path.resolve(templatesDir);
  const resolved = trees.map((t) => path.resolve(t.dir));
  trees.forEach((tree, i) => {
    const dir = resolved[i];
    const name = displayName(tree.dir);
    if (isInside(dir, templates) || isInside(templates, dir)) {
      problems.push({ file: name, message: `refusing to write into the templates folder ${displayName(templatesDir)}; choose another output folder` });
      return;
    }
    if (resolved.some((other, j) => j !== i && (isInside(dir, other) || isInside(other, dir)))) {
      problems.push({ file: name, message: "the output folder and the secrets folder must be separate folders" });
      return;
    }
    const stat = lstat(dir);
    if (!stat) return;
    if (stat.isSymbolicLink()) problems.push({ file: name, message: "is a symbolic link; gen-manifests writes only into a real folder" });
    else if (!stat.isDirectory()) problems.push({ file: name, message: "is a file; expected a folder (or nothing) to write into" });
    else if (!lstat(path.join(dir, MARKER_FILE))?.isFile() && fs.readdirSync(dir).length > 0) {
      problems.push({ file: name, message: `is a folder gen-manifests did not create (it has no ${MARKER_FILE} file) and is not empty; refusing to replace it. Choose an empty or new folder` });
    }
  });
  if (problems.length) throw new GenError("write-output", problems);
}

/** What writing the tree would change on disk. Never follows links inside the folder. */
export function diffTree(tree: OutputTree): FileChange[] {
  return compareTree(tree).changes;
}

/**
 * The changes, and the files on disk that stay exactly as they are (bytes and mode): those are
 * linked into the new folder rather than written again, so they keep their inode and time stamps
 * (`git status` and `make` see them unchanged), and removing the old folder frees nothing.
 */
function compareTree(tree: OutputTree): { changes: FileChange[]; unchanged: Set<string> } {
  const { files: onDisk, others } = scanTree(path.resolve(tree.dir));
  const changes: FileChange[] = [];
  const unchanged = new Set<string>();
  for (const [name, file] of [...tree.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const now = onDisk.get(name);
    if (now === undefined) changes.push({ file: path.join(tree.dir, name), change: others.includes(name) ? "changed" : "added" });
    else if (now.content !== file.content) changes.push({ file: path.join(tree.dir, name), change: "changed" });
    else if (now.mode === file.mode && now.links === 1) unchanged.add(name);
  }
  for (const name of [...onDisk.keys(), ...others].sort()) if (!tree.files.has(name)) changes.push({ file: path.join(tree.dir, name), change: "removed" });
  return { changes, unchanged };
}

/** Reads the files of a folder written earlier (for diffs); links and sub-folders are skipped. */
export function readTree(dir: string): Map<string, string> {
  return new Map([...scanTree(dir).files].map(([name, f]) => [name, f.content]));
}

interface FileOnDisk {
  content: string;
  /** Permission bits. */
  mode: number;
  /** Hard links to it: a file linked from elsewhere too is written anew, never shared further. */
  links: number;
}

/**
 * One pass over a folder: its files, and the names of what is not a file (symbolic links,
 * sub-folders). A concurrent run may swap the folder while it is read: then the whole read starts
 * again, so the result is always one run's folder, never a mix.
 */
function scanTree(dir: string): { files: Map<string, FileOnDisk>; others: string[] } {
  for (let attempt = 0; ; attempt++) {
    try {
      const files = new Map<string, FileOnDisk>();
      const others: string[] = [];
      if (!lstat(dir)?.isDirectory()) return { files, others };
      for (const name of fs.readdirSync(dir).sort()) {
        const stat = lstat(path.join(dir, name));
        if (stat?.isFile()) files.set(name, { content: fs.readFileSync(path.join(dir, name), "utf8"), mode: stat.mode & 0o7777, links: stat.nlink });
        else others.push(name);
      }
      return { files, others };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) throw e;
    }
  }
}

interface Lock {
  path: string;
}

/** Files younger than this with no pid yet belong to a run that is just taking the lock. */
const FRESH_LOCK_MS = 10_000;

/**
 * A lock file beside the folder, holding the pid of the run that writes it; a second concurrent
 * run refuses instead of mixing its files in. Created exclusively (O_EXCL), so two runs can never
 * both hold it; a lock whose process has died is taken over.
 */
function acquireLock(dir: string, display: string): Lock {
  const lockPath = path.join(path.dirname(dir), `.${path.basename(dir)}.gen-manifests.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx", mode: 0o644 });
      return { path: lockPath };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = readLockHolder(lockPath);
    if (holder === "gone") continue;
    if (holder === "fresh" || (holder !== process.pid && processAlive(holder))) {
      const who = typeof holder === "number" ? `pid ${holder}` : "just starting";
      throw new GenError("write-output", [{ file: display, message: `another gen-manifests run (${who}) is writing this folder; try again when it has finished` }]);
    }
    // Left behind by a run that died: safe to take over.
    fs.rmSync(lockPath, { recursive: true, force: true });
  }
  throw new GenError("write-output", [{ file: display, message: `could not lock ${lockPath}` }]);
}

function readLockHolder(lockPath: string): number | "gone" | "fresh" {
  const stat = lstat(lockPath);
  if (!stat) return "gone";
  let text = "";
  try {
    // A folder is the lock of an earlier gen-manifests version; its pid file says who holds it.
    text = fs.readFileSync(stat.isDirectory() ? path.join(lockPath, "pid") : lockPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    if (!lstat(lockPath)) return "gone";
  }
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0) return pid;
  // Created, pid not yet written: the other run is between its two system calls.
  return Date.now() - stat.mtimeMs < FRESH_LOCK_MS ? "fresh" : 0;
}

function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Makes the folder beside the target that will replace it, and fills it through `writer`; files
 * that stay as they are get a link to the file on disk instead.
 */
function stage(tree: OutputTree, unchanged: Set<string>, writer: FileWriter, staged: string[]): void {
  const dir = path.resolve(tree.dir);
  const folder = fs.mkdtempSync(path.join(path.dirname(dir), `.${path.basename(dir)}.new-`));
  staged.push(folder);
  for (const [name, file] of tree.files) {
    if (unchanged.has(name)) writer.link(path.join(dir, name), path.join(folder, name));
    else writer.write(path.join(folder, name), file.content, file.mode);
  }
}

/**
 * Replaces each folder with its planned content and returns what changed; nothing is written
 * when nothing changes. The targets are checked before anything is touched (even the lock beside
 * them), and again under the lock.
 */
export function replaceTrees(trees: OutputTree[], templatesDir: string, display: (dir: string) => string): FileChange[] {
  checkTargets(trees, templatesDir, display);
  return writeTrees(trees, templatesDir, display);
}

const DENIED = new Set(["EACCES", "EPERM", "EROFS"]);

/**
 * Everything is built beside the targets first; only then are the folders swapped in, and a
 * failed swap puts the earlier folders back. The targets are checked and compared under the
 * lock: another run may have replaced them since the first look.
 */
function writeTrees(trees: OutputTree[], templatesDir: string, display: (dir: string) => string): FileChange[] {
  const locks: Lock[] = [];
  const staged: string[] = [];
  const swapped: { dir: string; old?: string }[] = [];
  let writer: FileWriter | undefined;
  let changes: FileChange[];
  try {
    for (const t of trees) {
      fs.mkdirSync(path.dirname(path.resolve(t.dir)), { recursive: true });
      locks.push(acquireLock(path.resolve(t.dir), display(t.dir)));
    }
    checkTargets(trees, templatesDir, display);
    const compared = trees.map(compareTree);
    changes = compared.flatMap((c) => c.changes);
    const toWrite = changes.length > 0 ? trees : [];
    // Large folders are written on a second thread while this one serializes the next files.
    writer = openFileWriter(toWrite.reduce((n, t, i) => n + t.files.size - compared[i].unchanged.size, 0));
    toWrite.forEach((t, i) => stage(t, compared[i].unchanged, writer!, staged));
    writer.finish();
    toWrite.forEach((t, i) => fs.chmodSync(staged[i], t.dirMode));
    toWrite.forEach((t, i) => {
      const dir = path.resolve(t.dir);
      let old: string | undefined;
      if (lstat(dir)) {
        old = path.join(path.dirname(dir), `.${path.basename(dir)}.old-${process.pid}`);
        fs.rmSync(old, { recursive: true, force: true });
        fs.renameSync(dir, old);
      }
      swapped.push({ dir, old });
      fs.renameSync(staged[i], dir);
      staged[i] = "";
    });
  } catch (e) {
    // Nothing may be created in a staged folder after it is removed.
    writer?.abandon();
    for (const s of swapped.reverse()) {
      try {
        if (lstat(s.dir) && s.old) fs.rmSync(s.dir, { recursive: true, force: true });
        if (s.old) fs.renameSync(s.old, s.dir);
      } catch {
        // Leave the .old folder for the user rather than lose it.
      }
    }
    for (const s of staged) if (s) fs.rmSync(s, { recursive: true, force: true });
    for (const l of locks) fs.rmSync(l.path, { recursive: true, force: true });
    if (e instanceof GenError) throw e;
    const err = e as NodeJS.ErrnoException;
    // No lock in a folder we may not write: fine when nothing in it would change (a read-only checkout).
    if (staged.length === 0 && DENIED.has(err.code ?? "") && trees.flatMap(diffTree).length === 0) return [];
    throw new GenError("write-output", [{ file: display(trees[Math.max(0, swapped.length - 1)]?.dir ?? ""), message: `could not write (${err.code ?? err.message}); the earlier output is unchanged` }]);
  }
  for (const s of swapped) if (s.old) fs.rmSync(s.old, { recursive: true, force: true });
  for (const l of locks) fs.rmSync(l.path, { recursive: true, force: true });
  return changes;
}
