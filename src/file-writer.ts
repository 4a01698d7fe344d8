// Writes the files of the staged folders (or links them to the earlier folder's, where a file stays
// as it was: see write-output's compareTree). A large run writes them on a second thread, so that the
// main thread serializes the next manifests while the kernel creates the last ones. One thread, in
// order: creating files in one folder is serialized by the kernel, and several threads were slower.
// Measured on 2 cores: 10,000 files -5 % wall (+7 MB peak memory); at 1,000 files no gain, since the
// second core is otherwise busy with V8's garbage collection.
import fs from "node:fs";

/** Runs writing fewer files write them on the main thread. */
export const WRITER_THREAD_MIN_FILES = 2000;

/** Files sent to the thread in one message. */
const BATCH = 128;

/** Without progress for this long, the thread is taken for dead and the write fails. */
const STALL_MS = 60_000;

/**
 * Creates one file (never over an existing one) with its mode whatever the umask, or, with `content`
 * null, links `target` to the existing file `modeOrExisting`. Its text is also the thread's, so it
 * uses nothing but its arguments.
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

// The thread's code: plain CommonJS, given as text so that the bundle needs no second file.
// Each batch is [target, content, mode, ...], where a link is [target, null, existing file].
// state[0]: 0 while writing, 1 when done; state[1]: files written (progress, for the stall check).
const THREAD_CODE = `
const { workerData, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const { state, port } = workerData;
const umask = process.umask();
const createFile = ${createFile.toString()};
let failure;
parentPort.on("message", (batch) => {
  if (batch === null) {
    port.postMessage(failure ?? null);
    Atomics.store(state, 0, 1);
    Atomics.notify(state, 0);
    return;
  }
  if (failure) return;
  for (let i = 0; i < batch.length; i += 3) {
    try {
      createFile(fs, umask, batch[i], batch[i + 1], batch[i + 2]);
    } catch (e) {
      failure = { file: batch[i], code: e.code, message: e.message };
      break;
    }
    Atomics.add(state, 1, 1);
  }
});
`;

/** Creates files (never over an existing one), with their modes whatever the umask. */
export interface FileWriter {
  /** Writes a file, or queues it: files are written in the order of the calls. */
  write(target: string, content: string, mode: number): void;
  /** Makes `target` a hard link to `existing`, in the same order. */
  link(existing: string, target: string): void;
  /** Waits until every queued file is written; throws the first failure, as fs would. */
  finish(): void;
  /** After a failure elsewhere: writes nothing more, and returns once the thread has stopped writing. */
  abandon(): void;
}

/** A writer for this many files: on a second thread for large folders, else on this one. */
export function openFileWriter(fileCount: number): FileWriter {
  return fileCount >= WRITER_THREAD_MIN_FILES ? startWriterThread() : writeHere();
}

function writeHere(): FileWriter {
  const umask = process.umask();
  return {
    write: (target, content, mode) => createFile(fs, umask, target, content, mode),
    link: (existing, target) => createFile(fs, umask, target, null, existing),
    finish: () => undefined,
    abandon: () => undefined,
  };
}

function startWriterThread(): FileWriter {
  // Loaded here: a run that writes few files never needs it (~2 ms to load).
  const { MessageChannel, receiveMessageOnPort, Worker } = require("node:worker_threads") as typeof import("node:worker_threads");
  const state = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(THREAD_CODE, { eval: true, workerData: { state, port: port2 }, transferList: [port2], stdout: true, stderr: true });
  // The run does not wait for the thread to end: it is stopped with the process.
  worker.unref();
  let batch: unknown[] = [];
  const queue = (...item: unknown[]): void => {
    batch.push(...item);
    if (batch.length >= BATCH * 3) {
      worker.postMessage(batch);
      batch = [];
    }
  };
  let finished = false;
  const stop = (): void => {
    port1.close();
    void worker.terminate();
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (batch.length) worker.postMessage(batch);
    batch = [];
    worker.postMessage(null);
    let progress = Atomics.load(state, 1);
    while (Atomics.wait(state, 0, 0, STALL_MS) === "timed-out") {
      if (Atomics.load(state, 1) === progress) {
        stop();
        throw Object.assign(new Error(`the file-writing thread made no progress for ${STALL_MS / 1000} s`), { code: "ETIMEDOUT" });
      }
      progress = Atomics.load(state, 1);
    }
    const failure = receiveMessageOnPort(port1)?.message as { file: string; code?: string; message: string } | null | undefined;
    stop();
    if (failure) throw Object.assign(new Error(`${failure.message} (${failure.file})`), { code: failure.code });
  };
  return {
    write: (target, content, mode) => queue(target, content, mode),
    link: (existing, target) => queue(target, null, existing),
    finish,
    abandon() {
      // Waited for, so that nothing is created in the folder after it is removed.
      batch = [];
      try {
        finish();
      } catch {
        // The failure that made the caller abandon is the one to report.
      }
    },
  };
}
