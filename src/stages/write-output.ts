// The other end of the pipeline: compares the planned folders with the disk and replaces them.
// A folder is replaced whole (built beside it, then renamed into place, by a journal that the next
// command reads if the run is killed half way) under a lock the kernel frees when its holder dies,
// so a failed, killed or concurrent run never leaves a folder missing or a mix; and only folders
// gen-manifests made are ever deleted from.
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { GenError, Problem } from "../errors";
import type { FileChange, OutputTree } from "../types";
import { FileWriter, openFileWriter } from "../file-writer";
import { MARKER_FILE } from "./build-output";
import { outputOfMarker } from "../output-marker";

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
    } else {
      const owner = ownerOf(dir);
      const planned = tree.files.get(MARKER_FILE);
      const mine = planned && outputOfMarker(dir, planned.content);
      if (owner && mine && owner !== mine && lstat(path.join(owner, MARKER_FILE))?.isFile()) {
        const shown = displayName(path.relative(process.cwd(), owner) || ".");
        problems.push({ file: name, message: `holds the Secrets of the output folder ${shown}, not of ${displayName(path.relative(process.cwd(), mine) || ".")}; refusing to replace them. Give each output its own secrets folder (--secrets-out), or remove ${name} first` });
      }
    }
  });
  if (problems.length) throw new GenError("write-output", problems);
}

/** The output folder that a secrets folder on disk belongs to, by its marker. */
function ownerOf(dir: string): string | undefined {
  try {
    return outputOfMarker(dir, fs.readFileSync(path.join(dir, MARKER_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

/** What writing the tree would change on disk. Never follows links inside the folder. */
export function diffTree(tree: OutputTree): FileChange[] {
  return compareTree(tree).changes;
}

/**
 * A mode on disk that differs from the planned one in what matters: the execute bits (apply.sh
 * that lost its own), or, for a private file or folder (planned with nothing for group and others),
 * anything for group or others. Other bits follow the umask of whoever checked out out/ (git keeps
 * only the execute bit), so they are not a change.
 */
const driftedMode = (onDisk: number, planned: number): boolean => (onDisk & 0o111) !== (planned & 0o111) || ((planned & 0o077) === 0 && (onDisk & 0o077) !== 0);

/** Files and folder of a tree whose content is as planned but whose mode drifted: a later run repairs them. */
export function driftedModes(tree: OutputTree): FileChange[] {
  const dir = path.resolve(tree.dir);
  const stat = lstat(dir);
  if (!stat?.isDirectory()) return [];
  const drifted: FileChange[] = (tree.dirMode & 0o077) === 0 && (stat.mode & 0o077) !== 0 ? [{ file: tree.dir, change: "changed" }] : [];
  const { files } = scanTree(dir);
  for (const [name, file] of [...tree.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const now = files.get(name);
    if (now && now.content === file.content && driftedMode(now.mode, file.mode)) drifted.push({ file: path.join(tree.dir, name), change: "changed" });
  }
  return drifted;
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
  const folder = lstat(path.resolve(tree.dir));
  if (folder?.isDirectory() && (tree.dirMode & 0o077) === 0 && (folder.mode & 0o077) !== 0) changes.push({ file: tree.dir, change: "changed" });
  for (const [name, file] of [...tree.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const now = onDisk.get(name);
    if (now === undefined) changes.push({ file: path.join(tree.dir, name), change: others.includes(name) ? "changed" : "added" });
    else if (now.content !== file.content || driftedMode(now.mode, file.mode)) changes.push({ file: path.join(tree.dir, name), change: "changed" });
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

/**
 * The lock of an output folder: a Linux abstract Unix socket, named by the folder's real path,
 * bound by the run that writes it. Binding is exclusive, and the kernel frees the name when the
 * holder's socket closes, so a run that dies (even by SIGKILL) never leaves the lock held, and no
 * pid is ever taken for another process's. Readers (--check, diff, plan) take it too, so that they
 * never see a folder in the middle of a swap. Abstract names exist in Linux only; elsewhere runs
 * are not locked against each other.
 */
export interface FolderLock {
  release(): void;
}

/** How long a run waits for another run's lock before it gives up. */
const LOCK_WAIT_MS = Number(process.env.GEN_MANIFESTS_TEST_LOCK_WAIT_MS ?? 10_000);
const LOCK_POLL_MS = 20;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number): void => void Atomics.wait(PAUSE, 0, 0, ms);

/** A folder's path with the links in its parents resolved: two spellings of one folder take one lock. */
function realTarget(dir: string): string {
  const abs = path.resolve(dir);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

/** Binds the folder's socket, or returns undefined if another process has it. */
function tryLock(dir: string): FolderLock | undefined {
  const name = `\0gen-manifests/${createHash("sha256").update(realTarget(dir)).digest("hex")}`;
  const server = net.createServer();
  // A refused bind is reported on the next tick: it is told here by `listening`, which is set at once.
  server.on("error", () => undefined);
  server.listen({ path: name });
  if (!server.listening) return undefined;
  // The socket must not keep the process alive; it lives as long as the process does, or until released.
  server.unref();
  return { release: () => void server.close() };
}

/** Locks every folder (in one order, so two runs never wait on each other), waiting a while for another run. */
export function lockFolders(dirs: string[], display: (dir: string) => string): FolderLock {
  const held: FolderLock[] = [];
  const release = (): void => held.splice(0).forEach((l) => l.release());
  if (process.platform !== "linux") return { release };
  for (const dir of [...new Set(dirs.map(realTarget))].sort()) {
    const deadline = Date.now() + LOCK_WAIT_MS;
    let lock = tryLock(dir);
    while (!lock && Date.now() < deadline) {
      sleep(LOCK_POLL_MS);
      lock = tryLock(dir);
    }
    if (!lock) {
      release();
      const shown = display(dirs.find((d) => realTarget(d) === dir) ?? dir);
      throw new GenError("write-output", [{ file: shown, message: `another gen-manifests run is writing this folder (waited ${LOCK_WAIT_MS / 1000} s); try again when it has finished` }]);
    }
    held.push(lock);
  }
  return { release };
}

/**
 * Test-only: GEN_MANIFESTS_TEST_HOOK=kill@STEP makes the run kill itself (SIGKILL) at that step
 * of the swap, pause@STEP:MS pauses it there (saying so on stderr), so that tests can interrupt
 * or race a run at every step.
 */
const TEST_HOOK = /^(kill|pause)@([\w-]+)(?::(\d+))?$/.exec(process.env.GEN_MANIFESTS_TEST_HOOK ?? "");
function step(name: string): void {
  if (!TEST_HOOK || TEST_HOOK[2] !== name) return;
  if (TEST_HOOK[1] === "kill") process.kill(process.pid, "SIGKILL");
  fs.writeSync(2, `gen-manifests: paused at ${name}\n`);
  sleep(Number(TEST_HOOK[3] ?? 1000));
}

/**
 * What a swap in progress intends, written beside the first folder before the first rename and
 * removed after the last: while it exists, each folder's earlier version is kept beside it. A
 * run killed in between leaves it, and the next command puts every folder back as it was.
 */
interface Journal {
  swaps: { dir: string; staged: string; old: string; hadOld: boolean }[];
}

const journalOf = (dir: string): string => path.join(path.dirname(dir), `.${path.basename(dir)}.gen-manifests-journal`);
/** The names of what a run of this folder leaves beside it while it writes: staged and earlier folders, a journal being written. */
function hiddenOf(dir: string): RegExp {
  const base = path.basename(dir).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${base}\\.((new|old)-[A-Za-z0-9]{6}(-undone)?|gen-manifests-journal\\.\\d+)$`);
}

function writeJournal(file: string, journal: Journal): void {
  const tmp = `${file}.${process.pid}`;
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(journal));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * A journal left beside a folder, if it is one to follow: written by this user (a journal is a list
 * of folders to rename and remove), naming only folders this command holds the lock of, each with
 * its staged and earlier versions beside it under the names a run gives them.
 */
function readJournal(file: string, dirs: string[], display: string): Journal | undefined {
  let text: string;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    try {
      const uid = process.getuid?.();
      if (uid !== undefined && fs.fstatSync(fd).uid !== uid) {
        throw new GenError("write-output", [{ file: display, message: `${path.basename(file)} beside it belongs to another user; gen-manifests follows only its own journal (remove it, then run again)` }]);
      }
      text = fs.readFileSync(fd, "utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let journal: Journal;
  try {
    journal = JSON.parse(text) as Journal;
  } catch {
    fs.rmSync(file, { force: true }); // written whole or not at all: never a half one, but not one to follow
    return undefined;
  }
  const beside = (s: Journal["swaps"][number], p: unknown): boolean => typeof p === "string" && path.dirname(p) === path.dirname(s.dir) && hiddenOf(s.dir).test(path.basename(p));
  const valid = Array.isArray(journal.swaps) && journal.swaps.every((s) => typeof s.dir === "string" && beside(s, s.staged) && beside(s, s.old) && typeof s.hadOld === "boolean");
  if (!valid) throw new GenError("write-output", [{ file: display, message: `${path.basename(file)} beside it is not a journal gen-manifests wrote; remove it, then run again` }]);
  const elsewhere = journal.swaps.map((s) => s.dir).filter((d) => !dirs.includes(d));
  if (elsewhere.length) {
    throw new GenError("write-output", [{ file: display, message: `a run that was interrupted was also replacing ${elsewhere.join(", ")}: run gen-manifests again with the same output and secrets folders, so that both are put back together` }]);
  }
  return journal;
}

/** Puts every folder of an interrupted swap back as it was, then forgets the swap. */
function undoSwap(file: string, journal: Journal): void {
  for (const s of [...journal.swaps].reverse()) {
    if (lstat(s.old)) {
      // The new folder is in place, or the run died between the two renames.
      if (lstat(s.dir)) fs.renameSync(s.dir, lstat(s.staged) ? `${s.staged}-undone` : s.staged);
      fs.renameSync(s.old, s.dir);
    } else if (!s.hadOld && lstat(s.dir) && !lstat(s.staged)) {
      // A first run's folder: there was none before.
      fs.renameSync(s.dir, s.staged);
    }
  }
  fs.rmSync(file, { force: true });
  for (const s of journal.swaps) {
    fs.rmSync(s.staged, { recursive: true, force: true });
    fs.rmSync(`${s.staged}-undone`, { recursive: true, force: true });
  }
}

/**
 * Under the folders' lock: undoes what a killed run left half done (its journal), then removes the
 * hidden folders of runs that died (their staged copies and earlier versions may hold secrets).
 * Every command runs it before it reads or writes, so no command sees a folder missing or mixed.
 */
function settleFolders(dirs: string[], display: (dir: string) => string): void {
  for (const dir of dirs) {
    const file = journalOf(dir);
    const journal = readJournal(file, dirs, display(dir));
    if (journal) undoSwap(file, journal);
  }
  for (const dir of dirs) {
    const parent = path.dirname(dir);
    let names: string[];
    try {
      names = fs.readdirSync(parent);
    } catch {
      continue;
    }
    const hidden = hiddenOf(dir);
    for (const name of names) if (hidden.test(name)) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Runs `read` on the folders as one run left them: under their lock, after any interrupted swap
 * is undone. For commands that only read (--check, diff, plan).
 */
export function readingFolders<T>(dirs: string[], display: (dir: string) => string, read: () => T): T {
  const resolved = dirs.map((d) => path.resolve(d));
  const lock = lockFolders(resolved, (d) => display(dirs[resolved.indexOf(d)] ?? d));
  try {
    try {
      settleFolders(resolved, (d) => display(dirs[resolved.indexOf(d)] ?? d));
    } catch (e) {
      if (e instanceof GenError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new GenError("write-output", [{ file: display(dirs[0]), message: `a run that was interrupted left this folder half replaced, and it could not be put back (${err.code ?? err.message}); run gen-manifests here with write access` }]);
    }
    return read();
  } finally {
    lock.release();
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
 * Takes the folders' lock, undoes what a killed run left, then writes. Nothing to lock or stage in
 * a folder we may not write is fine when nothing in it would change (a read-only checkout).
 */
function writeTrees(trees: OutputTree[], templatesDir: string, display: (dir: string) => string): FileChange[] {
  const dirs = trees.map((t) => path.resolve(t.dir));
  let lock: FolderLock | undefined;
  try {
    for (const dir of dirs) fs.mkdirSync(path.dirname(dir), { recursive: true });
    const shown = (d: string): string => display(trees[dirs.indexOf(d)]?.dir ?? d);
    lock = lockFolders(dirs, shown);
    settleFolders(dirs, shown);
    step("locked");
    checkTargets(trees, templatesDir, display);
    return swapTrees(trees, dirs);
  } catch (e) {
    if (e instanceof GenError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (DENIED.has(err.code ?? "") && trees.flatMap(diffTree).length === 0) return [];
    throw new GenError("write-output", [{ file: display(trees[0]?.dir ?? ""), message: `could not write (${err.code ?? err.message}); the earlier output is unchanged` }]);
  } finally {
    lock?.release();
  }
}

/**
 * Everything is built beside the targets first (new folders, complete); then a journal records
 * the swap, each folder is renamed aside and its new one into place, and removing the journal
 * commits. A failure before that puts every folder back as it was, and so does the next command
 * after a kill, by the journal. Compared under the lock: another run may have replaced the
 * folders since the first look.
 */
function swapTrees(trees: OutputTree[], dirs: string[]): FileChange[] {
  const compared = trees.map(compareTree);
  const changes = compared.flatMap((c) => c.changes);
  if (changes.length === 0) return [];
  const staged: string[] = [];
  const journalFile = journalOf(dirs[0]);
  let journal: Journal | undefined;
  const writer = openFileWriter();
  try {
    trees.forEach((t, i) => stage(t, compared[i].unchanged, writer, staged));
    writer.finish();
    trees.forEach((t, i) => fs.chmodSync(staged[i], t.dirMode));
    step("staged");
    const aside = (dir: string, i: number): string => path.join(path.dirname(dir), `.${path.basename(dir)}.old-${path.basename(staged[i]).split(".new-")[1]}`);
    journal = { swaps: dirs.map((dir, i) => ({ dir, staged: staged[i], old: aside(dir, i), hadOld: lstat(dir) !== undefined })) };
    writeJournal(journalFile, journal);
    step("journaled");
    journal.swaps.forEach((s, i) => {
      if (s.hadOld) fs.renameSync(s.dir, s.old);
      step(`moved-aside-${i}`);
      fs.renameSync(s.staged, s.dir);
      step(`swapped-${i}`);
    });
    fs.rmSync(journalFile);
    step("committed");
  } catch (e) {
    // Nothing may be created in a staged folder after it is removed.
    writer.abandon();
    try {
      if (journal && lstat(journalFile)) undoSwap(journalFile, journal);
      for (const s of staged) fs.rmSync(s, { recursive: true, force: true });
    } catch {
      // Left for the next command, which undoes the swap by its journal.
    }
    throw e;
  }
  for (const s of journal.swaps) fs.rmSync(s.old, { recursive: true, force: true });
  step("cleaned");
  return changes;
}
