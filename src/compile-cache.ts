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
}

export const NO_CACHE: CompileCache = { get: () => undefined, set: () => undefined };

export function cacheKey(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}

function defaultDir(packageRoot: string): string {
  const modules = path.join(packageRoot, "node_modules");
  if (fs.existsSync(modules)) return path.join(modules, ".cache", "gen-manifests");
  return path.join(os.tmpdir(), `gen-manifests-cache-${process.getuid?.() ?? "user"}`);
}

export function openCompileCache(packageRoot: string, env: NodeJS.ProcessEnv = process.env): CompileCache {
  if (env.GEN_MANIFESTS_CACHE === "off") return NO_CACHE;
  const dir = env.GEN_MANIFESTS_CACHE_DIR ?? defaultDir(packageRoot);
  return {
    get(key) {
      try {
        return fs.readFileSync(path.join(dir, `${key}.js`), "utf8");
      } catch {
        return undefined;
      }
    },
    set(key, code) {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = path.join(dir, `.${key}.${process.pid}.tmp`);
        fs.writeFileSync(tmp, code, { mode: 0o600 });
        fs.renameSync(tmp, path.join(dir, `${key}.js`));
      } catch {
        // A cache that cannot be written only costs time.
      }
    },
  };
}

/** Evaluates cached CommonJS code with this package's require, wherever the file lies. */
export function loadModuleCode(code: string): unknown {
  const module = { exports: {} as unknown };
  new Function("require", "module", "exports", code)(require, module, module.exports);
  return module.exports;
}
