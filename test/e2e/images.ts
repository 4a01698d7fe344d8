// What the images of images/ are, read from their recipes: each image's Debian packages (the one
// list that the Dockerfiles, CI and the end-to-end test install) and what a container of it runs
// as (USER, ENTRYPOINT, CMD, ENV, WORKDIR), so that the node runs a container as its image would.
import fs from "node:fs";
import path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");
export const IMAGES_DIR = path.join(REPO, "images");

export interface ImageConfig {
  name: string;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  env: Record<string, string>;
  workdir?: string;
}

/** Every image of images/: the folders with a Dockerfile. */
export function imageNames(dir = IMAGES_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => fs.existsSync(path.join(dir, n, "Dockerfile")))
    .sort();
}

/** An image's package list: one name a line, `#` starts a comment (as install-packages reads it). */
export function imagePackages(name: string, dir = IMAGES_DIR): string[] {
  return fs
    .readFileSync(path.join(dir, name, "packages"), "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "");
}

/** The packages of every image, once each, sorted. */
export function allImagePackages(dir = IMAGES_DIR): string[] {
  return [...new Set(imageNames(dir).flatMap((n) => imagePackages(n, dir)))].sort();
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; arg: string }[] {
  const joined = text.replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: m[1].toUpperCase(), arg: m[2] };
    });
}

/** ENTRYPOINT/CMD in exec form (JSON) or shell form (run by /bin/sh -c, as Docker does). */
function commandForm(arg: string): string[] {
  return arg.startsWith("[") ? (JSON.parse(arg) as string[]) : ["/bin/sh", "-c", arg];
}

/**
 * What a container of the image runs as: its own recipe over the base's (every image but base is
 * built FROM base; CMD is reset by a new ENTRYPOINT, as Docker does).
 */
export function imageConfig(name: string, dir = IMAGES_DIR): ImageConfig {
  const chain = name === "base" ? ["base"] : ["base", name];
  const config: ImageConfig = { name, env: {} };
  for (const n of chain) {
    for (const { op, arg } of instructions(fs.readFileSync(path.join(dir, n, "Dockerfile"), "utf8"))) {
      if (op === "USER") config.user = arg;
      else if (op === "CMD") config.cmd = commandForm(arg);
      else if (op === "ENTRYPOINT") {
        config.entrypoint = commandForm(arg);
        config.cmd = undefined;
      } else if (op === "WORKDIR") config.workdir = arg;
      else if (op === "ENV") {
        const m = /^(\S+?)(?:=|\s+)(.*)$/.exec(arg);
        if (m) config.env[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
      }
    }
  }
  return config;
}

/** `registry:5000/openstack/keystone:zed` → `keystone`: the image's name in images/. */
export function imageNameOf(reference: string): string {
  const noDigest = reference.split("@")[0];
  const last = noDigest.split("/").pop() ?? noDigest;
  return last.split(":")[0];
}
