// A content-addressed cache of generated code (ajv's standalone validators, Handlebars'
// precompiled templates, the templates' parsed YAML), in the user's own cache folder
// ($XDG_CACHE_HOME/gen-manifests, else ~/.cache/gen-manifests). A key is a hash of what the entry
// was made from and of the build that made it (build-id.ts), so an entry is never stale; entries
// are written atomically and an unreadable one is a miss. The code holds no parameter value: only
// schemas and templates.
// What it runs is code this user made: a folder or file that another user owns, or that anyone
// else may write, is never read (the run compiles in memory instead), and each entry carries a hash
// of its name and content, so an entry that is not what was stored under its key is a miss.
// GEN_MANIFESTS_CACHE=off disables it; GEN_MANIFESTS_CACHE_DIR moves it. The stages take a
// CompileCache, so they run in memory (NO_CACHE) without one.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { BUILD_ID, isBuilt } from "./build-id";

export interface CompileCache {
  get(key: string): string | undefined;
  set(key: string, code: string): void;
  /** V8's code cache of the code kept under `key`, beside it and checked as it is: none in memory. */
  getCodeCache?(key: string): Buffer | undefined;
  setCodeCache?(key: string, data: Buffer): void;
}

export const NO_CACHE: CompileCache = { get: () => undefined, set: () => undefined };

/** An entry's file: its key, with the build that made it (so another build never reads it). */
const entryName = (key: string): string => `${cacheKey(BUILD_ID, key)}.js`;

/** The name of a V8 code cache entry: valid only for this build, Node and architecture. */
function codeCacheName(key: string): string {
  return `v8-${cacheKey(BUILD_ID, key, process.version, process.arch)}.bin`;
}

export function cacheKey(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

/**
 * Where the cache lives, or undefined when it is turned off: the user's own cache folder, never a
 * shared one (a folder in /tmp can be made first by anyone, with their code in it).
 */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GEN_MANIFESTS_CACHE === "off") return undefined;
  if (env.GEN_MANIFESTS_CACHE_DIR) return path.resolve(env.GEN_MANIFESTS_CACHE_DIR);
  // The XDG base directory spec: a relative $XDG_CACHE_HOME is invalid, and ignored.
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".cache"), "gen-manifests");
}

const UID = process.getuid?.();

/**
 * Whether code may be read from a file or folder: owned by this user and writable by nobody else.
 * Where there are no user ids (Windows), the folder is in the user's profile.
 */
function trusted(stat: fs.Stats): boolean {
  if (UID === undefined) return true;
  return stat.uid === UID && (stat.mode & 0o022) === 0;
}

/** Whether a folder is one to read code from: a real folder (not a link to one), trusted. */
function trustedDir(dir: string): boolean {
  const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
  return stat !== undefined && stat.isDirectory() && trusted(stat);
}

/**
 * An entry's first line, `// <hash>`: the hash of its name (its key) and content, so that it is
 * used only under that key (a comment, so that the entry is still the code it holds).
 */
function entryHash(name: string, data: Uint8Array): string {
  return createHash("sha256").update(name).update("\0").update(data).digest("hex");
}

/** An entry's bytes as they are stored under `name`. */
export const sealEntry = (name: string, content: string | Uint8Array): Buffer => {
  const data = typeof content === "string" ? Buffer.from(content) : content;
  return Buffer.concat([Buffer.from(`// ${entryHash(name, data)}\n`, "latin1"), data]);
};
const HASH_LINE = 68;

/**
 * Reads an entry's content through one open file, checked as it was opened (owner, mode, no link
 * followed), or undefined: a missing, foreign, writable or damaged entry is a miss.
 */
function readVerified(file: string, name: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || !trusted(stat) || stat.size < HASH_LINE) return undefined;
    const data = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < data.length) {
      const n = fs.readSync(fd, data, read, data.length - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    const content = data.subarray(HASH_LINE);
    return data.toString("latin1", 0, HASH_LINE) === `// ${entryHash(name, content)}\n` ? content : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

const asText = (data: Buffer): string => data.toString("utf8");
const asBytes = (data: Buffer): Buffer => data;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Entries not used for this long are removed: every edit of a template leaves one behind. */
const UNUSED_ENTRY_MS = 30 * DAY_MS;
const PRUNE_STAMP = ".pruned";

/**
 * Reads an entry; a hit marks it used (at most once a day, to spare a write per read). A miss is
 * told by the stat, without an exception: a first run of a large set misses thousands of times.
 */
function readCacheEntry<T>(dir: string, name: string, decode: (data: Buffer) => T): T | undefined {
  const file = path.join(dir, name);
  try {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return undefined;
    const data = readVerified(file, name);
    if (data === undefined) return undefined;
    const now = Date.now();
    if (now - stat.mtimeMs > DAY_MS) fs.utimesSync(file, now / 1000, now / 1000);
    return decode(data);
  } catch {
    return undefined;
  }
}

/**
 * When this process last made sure of each folder (made, and pruned if a day has passed): the
 * entries written after it cost no more than their files.
 */
const readyDirs = new Map<string, number>();

/** Writes a cache entry whole or not at all: concurrent runs may write the same key. */
function writeCacheEntry(dir: string, name: string, data: string | Uint8Array): void {
  try {
    const now = Date.now();
    if (now - (readyDirs.get(dir) ?? -Infinity) > DAY_MS) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      // A folder another user made (or may write) is not ours to fill: its entries would never be read.
      if (!trustedDir(dir)) return;
      pruneCompileCache(dir, now);
      readyDirs.set(dir, now);
    }
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, sealEntry(name, data), { mode: 0o600, flag: "wx" });
    fs.renameSync(tmp, path.join(dir, name));
  } catch {
    // A cache that cannot be written only costs time. The folder may have been removed meanwhile:
    // the next write makes sure of it again.
    readyDirs.delete(dir);
  }
}

/**
 * Past this size, the least recently used entries are removed (as ccache bounds its cache), down to
 * three quarters of it. Every edit of a template leaves the set's entries behind (the whole set's
 * code), so a day of saves under --watch would otherwise keep hundreds of MB for 30 days.
 */
export const MAX_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * Removes entries unused for UNUSED_ENTRY_MS, temporary files a killed run left, and the least
 * recently used entries past `maxBytes`. The cache grows only when something is written, so that
 * is when it is pruned, at most once a day.
 */
export function pruneCompileCache(dir: string, now = Date.now(), maxBytes = MAX_CACHE_BYTES): void {
  const stamp = path.join(dir, PRUNE_STAMP);
  try {
    if (now - fs.statSync(stamp).mtimeMs < DAY_MS) return;
  } catch {
    // Never pruned.
  }
  fs.writeFileSync(stamp, "");
  fs.utimesSync(stamp, now / 1000, now / 1000);
  const kept: { file: string; size: number; used: number }[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name === PRUNE_STAMP) continue;
    const file = path.join(dir, name);
    try {
      const { mtimeMs, size } = fs.statSync(file);
      const age = now - mtimeMs;
      if (age > UNUSED_ENTRY_MS || (name.endsWith(".tmp") && age > DAY_MS)) fs.unlinkSync(file);
      else kept.push({ file, size, used: mtimeMs });
    } catch {
      // Removed by a concurrent run.
    }
  }
  let total = kept.reduce((sum, e) => sum + e.size, 0);
  if (total <= maxBytes) return;
  // Marked used at most once a day (see readCacheEntry): the order is a day's, which is enough.
  for (const e of kept.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes * 0.75) break;
    try {
      fs.unlinkSync(e.file);
    } catch {
      // Removed by a concurrent run.
    }
    total -= e.size;
  }
}

/** The user's compile cache; `wrote` says whether this process generated code into it. */
export interface UserCompileCache extends CompileCache {
  readonly wrote: boolean;
  /** Also the bundled CLI's (the launcher's), so it is not compiled again at every run. */
  getCodeCache(key: string): Buffer | undefined;
  setCodeCache(key: string, data: Buffer): void;
}

const NO_USER_CACHE: UserCompileCache = { ...NO_CACHE, wrote: false, getCodeCache: () => undefined, setCodeCache: () => undefined };

/** Unbundled (tsc's output, no build id), runs share one cache in memory: the same code, for this process only. */
let inMemory: UserCompileCache | undefined;
function processCache(): UserCompileCache {
  const entries = new Map<string, string>();
  return (inMemory ??= { ...NO_USER_CACHE, get: (key) => entries.get(key), set: (key, code) => void entries.set(key, code) });
}

/** The user's compile cache, or none (when it is turned off, or its folder is not this user's alone). */
export function openCompileCache(env: NodeJS.ProcessEnv = process.env): UserCompileCache {
  const dir = compileCacheDir(env);
  if (dir === undefined) return NO_USER_CACHE;
  if (!isBuilt()) return processCache();
  // A folder that exists but is not this user's alone is never read, nor written: the run compiles in memory.
  if (fs.existsSync(dir) && !trustedDir(dir)) return NO_USER_CACHE;
  return {
    wrote: false,
    get(key) {
      return readCacheEntry(dir, entryName(key), asText);
    },
    set(key, code) {
      (this as { wrote: boolean }).wrote = true;
      writeCacheEntry(dir, entryName(key), code);
    },
    getCodeCache(key) {
      return readCacheEntry(dir, codeCacheName(key), asBytes);
    },
    setCodeCache(key, data) {
      writeCacheEntry(dir, codeCacheName(key), data);
    },
  };
}

/**
 * Evaluates cached CommonJS code (ajv's standalone validator, templates' code); returns its exports.
 * With `cachedData` (V8's code cache of this code), its functions are not compiled again; V8 itself
 * rejects data made from other code or by another V8, and `script` says whether it did.
 */
export function evaluateModule(code: string, require: (id: string) => unknown, filename: string, cachedData?: Buffer, loaded?: (script: vm.Script) => void): unknown {
  const script = new vm.Script(`(function (require, module, exports) {${code}\n})`, { filename, cachedData });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)(require, module, module.exports);
  loaded?.(script);
  return module.exports;
}
