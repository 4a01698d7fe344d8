// The test's side of the e2e node: starts it in a private network and mount namespace, talks to
// it, and stops it, checking that nothing it started is left behind.
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export class NodeHandle {
  constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
    readonly socket: string,
    /** The kubectl stand-in: a script that apply.sh and the checks call. */
    readonly kubectlPath: string,
    /** The private network namespace's identity (its inode), to find anything left in it. */
    readonly netns: string,
  ) {}

  get logDir(): string {
    return path.join(this.dir, "logs");
  }

  // A connection of its own per request (agent: false): a kept-alive one can be closed by the node
  // while idle, and a request written on it fails with EPIPE.
  private post<T>(route: string, body: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socket, path: route, method: "POST", agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const reply = JSON.parse(Buffer.concat(chunks).toString()) as T & { error?: string };
          if (reply.error) reject(new Error(reply.error));
          else resolve(reply);
        });
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }

  /** kubectl, as an operator types it, through the stand-in. */
  kubectl(args: string[], stdin?: Buffer): RunResult {
    const r = spawnSync(this.kubectlPath, args, { input: stdin, env: { ...process.env, E2E_NODE_SOCKET: this.socket }, maxBuffer: 1 << 30 });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.toString() };
  }

  /** A process on the node (inside the private network), stopped with it. */
  async startOnNode(argv: string[], log: string, env: Record<string, string> = {}): Promise<number> {
    return (await this.post<{ pid: number }>("/host/start", { argv, log, env })).pid;
  }

  async runOnNode(argv: string[], stdin?: Buffer): Promise<RunResult> {
    const r = await this.post<{ code: number; stdout: string; stderr: string }>("/host/run", { argv, stdin: stdin?.toString("base64") });
    return { code: r.code, stdout: Buffer.from(r.stdout, "base64"), stderr: r.stderr };
  }

  /** Every pod and process stopped, then the node; returns what was still alive afterwards. */
  async stop(): Promise<{ leftByNode: number[]; leftInNamespace: number[] }> {
    let leftByNode: number[] = [];
    if (this.proc.exitCode === null) {
      try {
        leftByNode = (await this.post<{ left: number[] }>("/shutdown", {})).left;
      } catch {
        this.proc.kill("SIGTERM");
      }
      await new Promise<void>((resolve) => {
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) resolve();
        else this.proc.on("exit", () => resolve());
        setTimeout(() => {
          this.proc.kill("SIGKILL");
          resolve();
        }, 20000);
      });
    }
    return { leftByNode, leftInNamespace: processesIn(this.netns) };
  }
}

/** The pids of every process whose network namespace is the given one. */
export function processesIn(netns: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/net`) === netns) pids.push(Number(entry));
    } catch {
      // exited, or not ours to read
    }
  }
  return pids;
}

/** Starts the node (as root: it needs namespaces, mounts and bubblewrap). */
export async function startNode(dir: string, env: Record<string, string> = {}): Promise<NodeHandle> {
  fs.mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, "node.sock");
  const kubectlPath = path.join(dir, "kubectl");
  fs.writeFileSync(kubectlPath, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(__dirname, "kubectl.js"))} "$@"\n`, { mode: 0o755 });
  const proc = spawn("unshare", ["--net", "--mount", "--propagation", "private", "--", process.execPath, path.join(__dirname, "node.js"), dir, socket], {
    stdio: ["pipe", "pipe", fs.openSync(path.join(dir, "node.stderr"), "a")],
    env: { ...process.env, ...env },
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) resolve();
    });
    proc.on("exit", (code) => reject(new Error(`the e2e node exited with ${code}: ${fs.readFileSync(path.join(dir, "node.stderr"), "utf8")}`)));
  });
  const netns = fs.readlinkSync(`/proc/${proc.pid}/ns/net`);
  return new NodeHandle(proc, dir, socket, kubectlPath, netns);
}

/** Why the e2e test cannot run here, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "the e2e node needs root (network namespaces, mounts)";
  for (const tool of ["unshare", "nsenter", "bwrap", "setpriv", "ip"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}
