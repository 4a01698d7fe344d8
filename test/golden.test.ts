// Golden fixtures: test/fixtures/<case>/input (templates, schema, params) renders to exactly
// test/fixtures/<case>/expected. UPDATE_GOLDEN=1 npm test rewrites the expected files (then
// `git add -f test/fixtures`: an expected secrets folder holds its own .gitignore of *).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { REPO, runCli, snapshot, tmpDir } from "./helpers";

const FIXTURES = path.join(REPO, "test", "fixtures");

/** File → content. Modes are tested elsewhere: git keeps only the executable bit. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(snapshot(dir))
      .filter(([name]) => !name.endsWith("/"))
      .map(([name, v]) => [name, v.replace(/^\d+ /, "")]),
  );
}
const cases: { name: string; args: string[] }[] = [
  { name: "basic", args: ["--params", "params.yaml"] },
  { name: "heat-stack", args: ["--params", "stack.yaml", "--set", "registry_replicas=5"] },
];

describe("golden fixtures", () => {
  for (const c of cases) {
    it(`${c.name} renders exactly the expected files`, () => {
      const work = tmpDir();
      fs.cpSync(path.join(FIXTURES, c.name, "input"), work, { recursive: true });
      const r = runCli([...c.args, "--quiet"], { cwd: work });
      assert.equal(r.status, 0, r.all);
      const expectedDir = path.join(FIXTURES, c.name, "expected");
      if (process.env.UPDATE_GOLDEN) {
        fs.rmSync(expectedDir, { recursive: true, force: true });
        for (const dir of ["out", "secrets"]) if (fs.existsSync(path.join(work, dir))) fs.cpSync(path.join(work, dir), path.join(expectedDir, dir), { recursive: true });
      }
      for (const dir of ["out", "secrets"]) {
        assert.deepEqual(contents(path.join(work, dir)), contents(path.join(expectedDir, dir)), `${c.name}/${dir} (UPDATE_GOLDEN=1 rewrites it)`);
      }
    });
  }
});
