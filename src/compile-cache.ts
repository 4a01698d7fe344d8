// A content-addressed cache of generated code (ajv's standalone validators, Handlebars'
// precompiled templates), as Babel and ESLint keep in node_modules/.cache. Keys are hashes of
// everything the code depends on, so an entry is never stale; entries are written atomically and
// an unreadable one is a miss. The code holds no parameter value: only schemas and templates.
// GEN_MANIFESTS_CACHE=off disables it; GEN_MANIFESTS_CACHE_DIR moves it.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface CompileCache {
  get(key: string): string | undefined;
  set(key: string, code: string): void;
  /** V8's code cache for generated code, so it is not compiled again at every run. */
  getCodeCache(key: string): Buffer | undefined;
  setCodeCache(key: string, data: Buffer): void;
}

export const NO_CACHE: CompileCache = { get: () => undefined, set: () => undefined, getCodeCache: () => undefined, setCodeCache: () => undefined };

/** The name of a V8 code cache entry: valid only for this Node and architecture. */
export function codeCacheName(key: string): string {
  return `v8-${cacheKey(key, process.version, process.arch)}.bin`;
}

export function cacheKey(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

/** Where the cache lives, or undefined when it is turned off. */
function compileCacheDir(packageRoot: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GEN_MANIFESTS_CACHE === "off") return undefined;
  if (env.GEN_MANIFESTS_CACHE_DIR) return env.GEN_MANIFESTS_CACHE_DIR;
  const modules = path.join(packageRoot, "node_modules");
  if (fs.existsSync(modules)) return path.join(modules, ".cache", "gen-manifests");
  return path.join(os.tmpdir(), `gen-manifests-cache-${process.getuid?.() ?? "user"}`);
}

/** Writes a cache entry whole or not at all: concurrent runs may write the same key. */
function writeCacheEntry(dir: string, name: string, data: string | Uint8Array): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, path.join(dir, name));
  } catch {
    // A cache that cannot be written only costs time.
  }
}

export function openCompileCache(packageRoot: string, env: NodeJS.ProcessEnv = process.env): CompileCache {
  const dir = compileCacheDir(packageRoot, env);
  if (dir === undefined) return NO_CACHE;
  return {
    get(key) {
      try {
        return fs.readFileSync(path.join(dir, `${key}.js`), "utf8");
      } catch {
        return undefined;
      }
    },
    set(key, code) {
      writeCacheEntry(dir, `${key}.js`, code);
    },
    getCodeCache(key) {
      try {
        return fs.readFileSync(path.join(dir, codeCacheName(key)));
      } catch {
        return undefined;
      }
    },
    setCodeCache(key, data) {
      writeCacheEntry(dir, codeCacheName(key), data);
    },
  };
}

/** Evaluates cached CommonJS code with this package's require, wherever the file lies. */
export function loadModuleCode(code: string): unknown {
  const module = { exports: {} as unknown };
  new Function("require", "module", "exports", code)(require, module, module.exports);
  return module.exports;
}
