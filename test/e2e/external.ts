// What the end-to-end test provides around the rendered set, as an operator's site would: the
// Debian packages the images are built from, and the external database server (MariaDB), run on
// the e2e node's own address inside its private network.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { allImagePackages, imageConfig, imageNames, REPO } from "./images";
import type { NodeHandle } from "./cluster";

/** Besides the images' packages: the sandbox, the pods' networks, the database server (test/e2e/packages). */
export function testPackages(): string[] {
  return fs
    .readFileSync(path.join(REPO, "test", "e2e", "packages"), "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

/** Installs what images/ and the test name, if any is missing (the same lists CI installs). */
export function ensurePackages(): { installed: string[] } {
  const wanted = [...new Set([...allImagePackages(), ...testPackages()])].sort();
  const missing = wanted.filter((p) => {
    const r = spawnSync("dpkg-query", ["-W", "-f", "${Status}", p], { encoding: "utf8" });
    return !/install ok installed/.test(r.stdout ?? "");
  });
  if (missing.length) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const lists = fs.existsSync("/var/lib/apt/lists") ? fs.readdirSync("/var/lib/apt/lists").filter((f) => f.endsWith("Packages")) : [];
    if (!lists.length) {
      const u = spawnSync("apt-get", ["update"], { stdio: "inherit", env });
      if (u.status !== 0) throw new Error("apt-get update failed");
    }
    const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { stdio: ["ignore", "inherit", "inherit"], env });
    if (r.status !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed`);
  }
  return { installed: missing };
}

/**
 * The users that images/ creates itself rather than through a package (the client's `openstack`),
 * made here as its Dockerfile makes them, so that a container runs as its image's user.
 */
export function ensureImageUsers(): string[] {
  const made: string[] = [];
  for (const name of imageNames()) {
    const user = imageConfig(name).user?.split(":")[0];
    if (!user || /^\d+$/.test(user) || spawnSync("getent", ["passwd", user]).status === 0) continue;
    const r = spawnSync("useradd", ["--system", "--create-home", "--home-dir", `/home/${user}`, "--shell", "/bin/sh", user], { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`useradd ${user} (the user of image ${name}) failed`);
    made.push(user);
  }
  return made;
}

export interface Database {
  host: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  socket: string;
  /** SQL run as MariaDB's root over its socket. */
  sql(statement: string): Promise<string>;
  /** Every table's rows of a database, in a stable order, for comparing two states; `ignore` names tables left out. */
  dump(database: string, ignore?: string[]): Promise<string>;
}

/**
 * MariaDB in a private data folder, listening on the node's address only, with an administrator
 * that may create databases and users from the pods (the database admin credential).
 */
export async function startDatabase(node: NodeHandle, dir: string, host: string, adminPassword: string): Promise<Database> {
  const datadir = path.join(dir, "mariadb");
  const runDir = path.join(dir, "run");
  const socket = path.join(runDir, "mariadb.sock");
  fs.mkdirSync(datadir, { recursive: true });
  fs.mkdirSync(runDir, { recursive: true });
  const init = await node.runOnNode(["mariadb-install-db", "--no-defaults", "--user=mysql", `--datadir=${datadir}`, "--auth-root-authentication-method=socket", "--skip-test-db"]);
  if (init.code !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}${init.stdout}`);
  // mariadbd runs as mysql: its folders must be reachable by it, its socket's writable.
  fs.chmodSync(dir, 0o755);
  const mysql = /^mysql:x:(\d+):(\d+):/m.exec(fs.readFileSync("/etc/passwd", "utf8"));
  if (!mysql) throw new Error("no mysql user: is mariadb-server installed?");
  fs.chownSync(runDir, Number(mysql[1]), Number(mysql[2]));
  await node.startOnNode(
    ["mariadbd", "--no-defaults", "--user=mysql", `--datadir=${datadir}`, `--socket=${socket}`, `--pid-file=${path.join(runDir, "mariadb.pid")}`, `--bind-address=${host}`, "--port=3306", "--skip-name-resolve", "--max-connections=500", "--innodb-buffer-pool-size=64M"],
    "mariadb.log",
  );
  const sql = async (statement: string): Promise<string> => {
    const r = await node.runOnNode(["mariadb", "--no-defaults", `--socket=${socket}`, "-u", "root", "--batch", "--skip-column-names", "-e", statement]);
    if (r.code !== 0) throw new Error(`mariadb: ${r.stderr}`);
    return r.stdout.toString();
  };
  for (let i = 0; ; i++) {
    const ping = await node.runOnNode(["mariadb-admin", "--no-defaults", `--socket=${socket}`, "-u", "root", "ping"]);
    if (ping.code === 0) break;
    if (i > 100) throw new Error(`MariaDB did not start; see ${path.join(node.logDir, "mariadb.log")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const adminUser = "dbadmin";
  const quoted = adminPassword.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  await sql(`CREATE USER '${adminUser}'@'%' IDENTIFIED BY '${quoted}'; GRANT ALL PRIVILEGES ON *.* TO '${adminUser}'@'%' WITH GRANT OPTION;`);
  const dump = async (database: string, ignore: string[] = []): Promise<string> => {
    const skip = ignore.map((t) => `--ignore-table=${database}.${t}`);
    const r = await node.runOnNode(["mariadb-dump", "--no-defaults", `--socket=${socket}`, "-u", "root", "--skip-dump-date", "--skip-extended-insert", "--order-by-primary", "--skip-comments", ...skip, database]);
    if (r.code !== 0) throw new Error(`mariadb-dump ${database}: ${r.stderr}`);
    return r.stdout.toString();
  };
  return { host, port: 3306, adminUser, adminPassword, socket, sql, dump };
}
