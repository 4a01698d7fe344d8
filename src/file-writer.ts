// Writes the files of the staged folders (or links them to the earlier folder's, where a file stays
// as it was: see write-output's compareTree), in order, on this thread. A second thread measured no
// gain below 2,000 files and ±5 % at 10,000 (bench/results.md): not worth its code.
import fs from "node:fs";

/**
 * Creates one file (never over an existing one) with its mode whatever the umask, or, with `content`
 * null, links `target` to the existing file `modeOrExisting` (through `fs`, which a test may replace).
 */
export function createFile(fs: typeof import("node:fs"), umask: number, target: string, content: string | null, modeOrExisting: number | string): void {
  if (content === null) {
    try {
      fs.linkSync(modeOrExisting as string, target);
    } catch (e) {
      // Some file systems cannot link, nor can anyone link another user's file (protected_hardlinks): copied then, mode and all.
      if (!["EPERM", "EACCES", "EXDEV", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"].includes((e as { code?: string }).code ?? "")) throw e;
      fs.copyFileSync(modeOrExisting as string, target, fs.constants.COPYFILE_EXCL);
    }
    return;
  }
  fs.writeFileSync(target, content, { mode: modeOrExisting as number, flag: "wx" });
  // The umask can only take bits away: chmod only where it took some.
  if (((modeOrExisting as number) & umask) !== 0) fs.chmodSync(target, modeOrExisting as number);
}

/** Creates files (never over an existing one), with their modes whatever the umask. */
export interface FileWriter {
  /** Writes a file. */
  write(target: string, content: string, mode: number): void;
  /** Makes `target` a hard link to `existing`. */
  link(existing: string, target: string): void;
  /** Called once every file is asked for. */
  finish(): void;
  /** After a failure elsewhere: writes nothing more. */
  abandon(): void;
}

/** A writer on this thread: each file is created as it is asked for. */
export function openFileWriter(): FileWriter {
  const umask = process.umask();
  return {
    write: (target, content, mode) => createFile(fs, umask, target, content, mode),
    link: (existing, target) => createFile(fs, umask, target, null, existing),
    finish: () => undefined,
    abandon: () => undefined,
  };
}
