// images/: one recipe per image the templates name, built from Debian's packages with no
// `latest` anywhere, and build.sh, which builds base first and pushes every image where
// {{image "<name>"}} points, with docker, podman or buildah.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { REPO } from "./helpers";

const IMAGES = path.join(REPO, "images");
const BUILD = path.join(IMAGES, "build.sh");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gen-manifests-images-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const images = fs.readdirSync(IMAGES).filter((n) => fs.existsSync(path.join(IMAGES, n, "Dockerfile"))).sort();

function templateImageNames(): string[] {
  const names = new Set<string>();
  for (const file of fs.readdirSync(path.join(REPO, "kubernetes-in"))) {
    for (const m of fs.readFileSync(path.join(REPO, "kubernetes-in", file), "utf8").matchAll(/\{\{image "([^"]+)"\}\}/g)) names.add(m[1]);
  }
  return [...names].sort();
}

test("every image a template names is built by images/, and images/ builds no image that none names", () => {
  const named = templateImageNames();
  assert.deepEqual(images.filter((n) => n !== "base"), named);
});

test("every image is built from Debian 12 by its own package list, without recommends, and runs as a user of its own", () => {
  for (const name of images) {
    const dockerfile = fs.readFileSync(path.join(IMAGES, name, "Dockerfile"), "utf8");
    const packages = fs.readFileSync(path.join(IMAGES, name, "packages"), "utf8").replace(/#.*/g, "").split(/\s+/).filter(Boolean);
    assert.ok(packages.length > 0, `${name}: images/${name}/packages lists its packages`);
    for (const p of packages) assert.match(p, /^[a-z0-9][a-z0-9.+-]+$/, `${name}: ${p} is a Debian package name`);
    assert.match(dockerfile, /^COPY packages \/tmp\/packages\nRUN install-packages \/tmp\/packages$/m, `${name}: installs its package list`);
    const from = [...dockerfile.matchAll(/^FROM (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(from, [name === "base" ? "debian:bookworm-slim" : "${BASE}"], `${name}: FROM`);
    if (name !== "base") assert.match(dockerfile, /^USER [a-z][a-z-]*$/m, `${name}: runs as the service's user, not root`);
  }
  assert.match(fs.readFileSync(path.join(IMAGES, "base", "install-packages"), "utf8"), /apt-get install -y --no-install-recommends/);
});

test("no image and no build step names the tag latest", () => {
  const files = spawnSync("find", [IMAGES, "-type", "f"], { encoding: "utf8" }).stdout.trim().split("\n");
  for (const f of files) assert.doesNotMatch(fs.readFileSync(f, "utf8").replace(/^.*refused.*$/gm, ""), /:latest\b/, f);
});

test("build.sh is clean under shellcheck", { skip: spawnSync("sh", ["-c", "command -v shellcheck"]).status !== 0 && "shellcheck is not installed" }, () => {
  const r = spawnSync("shellcheck", [BUILD, path.join(IMAGES, "base", "install-packages")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

/** build.sh with a docker (or podman) on PATH that records what it is asked to do. */
function buildWith(tool: string, args: string[]): { status: number | null; calls: string[]; stderr: string; stdout: string } {
  const bin = path.join(tmp, `bin-${tool}`);
  const log = path.join(tmp, `${tool}.log`);
  fs.mkdirSync(bin, { recursive: true });
  fs.rmSync(log, { force: true });
  fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${JSON.stringify(log)}\n`, { mode: 0o755 });
  const r = spawnSync("bash", [BUILD, ...args], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
  return { status: r.status, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [], stderr: r.stderr, stdout: r.stdout };
}

test("build.sh builds base first, then every image FROM it, and pushes each where {{image}} points", () => {
  const r = buildWith("docker", ["--registry", "registry.example.com:5000", "--prefix", "openstack", "--tag", "zed-1"]);
  assert.equal(r.status, 0, r.stderr);
  const builds = r.calls.filter((c) => c.startsWith("docker build"));
  const pushes = r.calls.filter((c) => c.startsWith("docker push")).map((c) => c.split(" ")[2]);
  assert.equal(builds.length, images.length);
  assert.match(builds[0], /--tag registry\.example\.com:5000\/openstack\/base:zed-1 /);
  for (const b of builds) assert.match(b, /--build-arg BASE=registry\.example\.com:5000\/openstack\/base:zed-1 /);
  assert.deepEqual(pushes.sort(), images.map((n) => `registry.example.com:5000/openstack/${n}:zed-1`).sort());
});

test("build.sh uses podman when docker is absent, and builds only the images named", () => {
  const r = buildWith("podman", ["--registry", "", "--prefix", "/os/", "--tag", "t1", "--insecure", "keystone"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.calls.map((c) => c.replace(/ \/\S+\/images\/(\w+)$/, " images/$1")),
    ["podman build --tag os/base:t1 --build-arg BASE=os/base:t1 images/base", "podman push --tls-verify=false os/base:t1", "podman build --tag os/keystone:t1 --build-arg BASE=os/base:t1 images/keystone", "podman push --tls-verify=false os/keystone:t1"],
  );
});

test("build.sh refuses a bad command line with exit 2, and explains itself with --help", () => {
  const cases: [string[], RegExp][] = [
    [["--prefix", "p", "--tag", "t"], /--registry is required/],
    [["--registry", "r", "--prefix", "p", "--tag", "latest"], /--tag latest is refused/],
    [["--registry", "r", "--prefix", "p", "--tag", "t", "nonesuch"], /no image nonesuch/],
    [["--registry", "r", "--prefix", "p", "--tag", "t", "--bogus"], /unknown option --bogus/],
  ];
  for (const [args, message] of cases) {
    const r = buildWith("docker", args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, message);
    assert.deepEqual(r.calls, [], "nothing was built");
  }
  const help = buildWith("docker", ["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: images\/build\.sh --registry/);
});
