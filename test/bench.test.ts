// The benchmark's own logic (timings themselves are only ever measured by `npm run bench`): its
// synthetic sets are real template sets, and its ratios pair runs made in the same round.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { addedTemplate, diskLine, editOpenStackTemplate, editTemplate, inTurns, OPENSTACK_EDITED, pairedRatio, syntheticSet } from "../bench/bench";
import { REPO, runCli, tmpDir } from "./helpers";

describe("bench", () => {
  it("a synthetic set renders into as many objects as templates: Deployments, Services, Secrets and Jobs, 3:3:3:1", () => {
    const dir = tmpDir("gm-bench-set-");
    syntheticSet(dir, 20);
    assert.equal(fs.readdirSync(path.join(dir, "kubernetes-in")).filter((f) => !f.startsWith("_")).length, 20);
    // A compile cache of the test's own: after the first run, an edit compiles one template.
    const env = { GEN_MANIFESTS_CACHE_DIR: tmpDir("gm-bench-cache-") };
    const r = runCli(["--params", "params.json", "--quiet"], { cwd: dir, env });
    assert.equal(r.status, 0, r.all);
    const files = [...fs.readdirSync(path.join(dir, "out")), ...fs.readdirSync(path.join(dir, "secrets"))];
    const count = (kind: string) => files.filter((f) => f.includes(`-${kind}-`)).length;
    assert.deepEqual({ deployments: count("deployment"), services: count("service"), secrets: count("secret"), jobs: count("job") }, { deployments: 6, services: 6, secrets: 6, jobs: 2 });

    // The edit of the "one edited" rows changes the output of that template alone, each round anew.
    const template = path.join(dir, "kubernetes-in", "d0.yaml.hbs");
    const original = fs.readFileSync(template, "utf8");
    const before = fs.readdirSync(path.join(dir, "out")).map((f) => [f, fs.readFileSync(path.join(dir, "out", f), "utf8")]);
    for (const round of [0, 1]) {
      fs.writeFileSync(template, editTemplate(original, round));
      const again = runCli(["--params", "params.json", "--quiet"], { cwd: dir, env });
      assert.equal(again.status, 0, again.all);
      // Besides the marker, which names the new out/ (see output-marker.ts).
      const changed = before.filter(([f, text]) => f !== ".gen-manifests" && fs.readFileSync(path.join(dir, "out", f), "utf8") !== text).map(([f]) => f);
      assert.deepEqual(changed, ["70-deployment-svc0.yaml"]);
      assert.match(fs.readFileSync(path.join(dir, "out", "70-deployment-svc0.yaml"), "utf8"), new RegExp(`--port=${9000 + round}`));
    }

    // The templates of the "one added" rows render, each into one more object, and sort among the first.
    for (const round of [0, 1]) {
      const [name, text] = addedTemplate(round);
      fs.writeFileSync(path.join(dir, "kubernetes-in", name), text);
      const more = runCli(["--params", "params.json", "--quiet"], { cwd: dir, env });
      assert.equal(more.status, 0, more.all);
      assert.ok(fs.existsSync(path.join(dir, "secrets", `20-secret-added-${round}.yaml`)), fs.readdirSync(path.join(dir, "secrets")).join(", "));
      assert.ok(fs.readdirSync(path.join(dir, "kubernetes-in")).filter((f) => !f.startsWith("_")).sort().indexOf(name) <= 1);
    }
  });

  it("the edit of the OpenStack set's \"one edited\" row changes Keystone's Service alone, each round anew", () => {
    const dir = tmpDir("gm-bench-openstack-");
    for (const sub of ["kubernetes-in", "params"]) fs.cpSync(path.join(REPO, sub), path.join(dir, sub), { recursive: true });
    const args = ["--params", "params/example.json", "--quiet"];
    const env = { GEN_MANIFESTS_CACHE_DIR: tmpDir("gm-bench-cache-") };
    assert.equal(runCli(args, { cwd: dir, env }).status, 0);
    const template = path.join(dir, "kubernetes-in", OPENSTACK_EDITED);
    const original = fs.readFileSync(template, "utf8");
    const before = fs.readdirSync(path.join(dir, "out")).map((f) => [f, fs.readFileSync(path.join(dir, "out", f), "utf8")]);
    for (const round of [0, 1]) {
      fs.writeFileSync(template, editOpenStackTemplate(original, round));
      const again = runCli(args, { cwd: dir, env });
      assert.equal(again.status, 0, again.all);
      // Besides the marker, which names the new out/ (see output-marker.ts).
      const changed = before.filter(([f, text]) => f !== ".gen-manifests" && fs.readFileSync(path.join(dir, "out", f), "utf8") !== text).map(([f]) => f);
      assert.deepEqual(changed, ["50-service-keystone.yaml"]);
      assert.match(fs.readFileSync(path.join(dir, "out", "50-service-keystone.yaml"), "utf8"), new RegExp(`port: ${15000 + round}\n`));
    }
  });

  const ratios: { name: string; a: number[]; b: number[]; expected: number }[] = [
    { name: "one pair", a: [3], b: [2], expected: 1.5 },
    { name: "the median of the ratios, not the ratio of the medians", a: [1, 10, 10], b: [1, 1, 10], expected: 1 },
    { name: "an even count takes the mean of the middle two", a: [2, 3, 4, 10], b: [1, 1, 1, 1], expected: 3.5 },
  ];
  for (const t of ratios) it(`pairedRatio: ${t.name}`, () => assert.equal(pairedRatio(t.a, t.b), t.expected));

  const disks: { before: number; after: number; warns: boolean }[] = [
    { before: 247, after: 238, warns: false },
    { before: 300, after: 250, warns: false },
    { before: 3631, after: 253, warns: true }, // a disk slowed down by a large delete before the run
    { before: 250, after: 900, warns: true },
  ];
  for (const d of disks) {
    it(`the disk line ${d.warns ? "warns" : "does not warn"} when the calibrations took ${d.before} and ${d.after} ms`, () => {
      const line = diskLine(d.before, d.after);
      assert.match(line, new RegExp(`in ${d.before} ms before the sets and ${d.after} ms after`));
      assert.equal(line.includes("Run it again"), d.warns);
    });
  }
  it("pairedRatio refuses samples that do not pair up", () => assert.throws(() => pairedRatio([1, 2], [1])));

  it("inTurns: a warm-up round, then every command once a round, starting one further along each round", () => {
    const order: string[] = [];
    const make = ["a", "b", "c"].map((name) => (round: number) => ({ argv: [name, String(round)], cwd: "." }));
    const samples = inTurns(make, 3, (c) => (order.push(c.argv.join("")), { seconds: Number(c.argv[1]), rssMb: 0, cpu: 0 }));
    assert.deepEqual(order, ["a-1", "b-1", "c-1", "a0", "b0", "c0", "b1", "c1", "a1", "c2", "a2", "b2"]);
    assert.deepEqual(samples.map((s) => s.map((x) => x.seconds)), [[0, 1, 2], [0, 1, 2], [0, 1, 2]]);
  });
});
