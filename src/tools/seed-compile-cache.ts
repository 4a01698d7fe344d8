// Makes the compile cache's seed (see ../compile-cache.ts), run by scripts/build.mjs: the shipped
// set rendered into an empty cache, once to generate its code, and again for V8's code caches of a
// run that compiled nothing (they hold for this Node version only: their keys say which).
// The seed only saves time: a shipped set that does not render (a fork whose example parameters
// lag behind its schema) leaves the package without one, and the build goes on.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isCacheEntry, seedDir } from "../compile-cache";

export type SeedResult = { entries: number } | { skipped: string };

export function seedCompileCache(packageRoot: string): SeedResult {
  const seed = seedDir(packageRoot);
  fs.rmSync(seed, { recursive: true, force: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "gm-seed-"));
  const cache = path.join(work, "cache");
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, GEN_MANIFESTS_CACHE_DIR: cache };
    delete env.GEN_MANIFESTS_CACHE;
    for (let run = 0; run < 2; run++) {
      // Into a new folder, as the README's first command does: the functions V8 keeps are that run's.
      const out = path.join(work, `render-${run}`, "out");
      const args = [path.join(packageRoot, "dist", "gen-manifests.js"), "--params", "params/example.json", "--out", out, "--quiet"];
      const r = spawnSync(process.execPath, args, { cwd: packageRoot, env, encoding: "utf8" });
      if (r.status !== 0) {
        const why = r.error?.message ?? (r.stderr.trim().split("\n")[0] || `exit ${r.status}`);
        return { skipped: `the shipped set did not render with params/example.json: ${why}` };
      }
    }
    fs.mkdirSync(seed, { mode: 0o755 });
    let entries = 0;
    for (const name of fs.readdirSync(cache)) {
      if (!isCacheEntry(name)) continue;
      fs.copyFileSync(path.join(cache, name), path.join(seed, name));
      // Readable by every user of an installation made by another (cache entries are private).
      fs.chmodSync(path.join(seed, name), 0o644);
      entries++;
    }
    return { entries };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
