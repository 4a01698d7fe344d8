// A Kubernetes node without Kubernetes, for the end-to-end test: it takes the rendered objects as
// `kubectl apply` hands them over, and runs their pods as a kubelet would. Each pod gets a network
// namespace of its own (a veth on a bridge, so two pods may use the same port), each container a
// bubblewrap sandbox whose root is a fresh overlay of this machine's root (the image: the same
// Debian packages the images install) with the pod's Secret, ConfigMap and volume mounts bound at
// their mount paths, an /etc/hosts naming every Service, its environment (values, secretKeyRefs,
// service links), its command and args, and the image's user. Services get a cluster IP and a
// proxy to their ready pods; readiness, liveness and startup probes are polled; Jobs run to
// completion with retries; Deployments and StatefulSets keep their pods running.
//
// It runs as root inside a private network and mount namespace (`unshare --net --mount`, started
// by startNode in cluster.ts), so nothing it starts is reachable from outside or outlives it.
// Requests come over a Unix socket from the kubectl stand-in (kubectl.ts).
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import yaml from "js-yaml";
import { ImageConfig, imageConfig, imageNameOf, IMAGES_DIR } from "./images";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

// Addresses of the private network: the benchmark range of RFC 2544, never routed anywhere and
// here only inside namespaces of our own. The node is 198.18.0.1; pods 198.18.1.x and up; Services 198.19.0.x.
const NODE_IP = "198.18.0.1";
const PREFIX_LEN = 16;

interface ContainerRun {
  name: string;
  spec: Obj;
  init: boolean;
  proc?: ChildProcess;
  sandboxPid?: number;
  env: Record<string, string>;
  user: { uid: number; gid: number; groups: number[]; home: string };
  restarts: number;
  running: boolean;
  ready: boolean;
  started: boolean;
  exitCode?: number | null;
  root?: string;
  failures: { liveness: number; readiness: number; startup: number };
  timers: NodeJS.Timeout[];
  exited?: Promise<number | null>;
}

interface Pod {
  key: string;
  name: string;
  namespace: string;
  index: number;
  ip: string;
  netns: string;
  labels: Record<string, string>;
  spec: Obj;
  owner: { kind: string; name: string };
  dir: string;
  hostsFile: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  message?: string;
  containers: ContainerRun[];
  stopping: boolean;
  /** A Job's pod: how many container restarts its backoffLimit still allows (OnFailure). */
  restartLimit?: number;
  done: Promise<void>;
  resolveDone: () => void;
}

interface ServiceRun {
  obj: Obj;
  clusterIP?: string;
  servers: net.Server[];
}

interface JobRun {
  obj: Obj;
  failures: number;
  status: "Running" | "Complete" | "Failed";
  message?: string;
  pods: Pod[];
  timer?: NodeJS.Timeout;
}

interface WorkloadRun {
  obj: Obj;
  pods: Pod[];
  hash: string;
}

export interface KubectlReply {
  code: number;
  stdout: string; // base64: exec output may be binary
  stderr: string;
}

class NodeError extends Error {}
/** A Secret, ConfigMap or key a pod needs is not there yet: the kubelet waits for it and retries. */
class WaitingError extends NodeError {}

function hash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 10);
}

/**
 * An object as the API server stores it, for what the shipped set could get wrong: a Secret's
 * stringData folded into data (base64), and an env var's empty value dropped (omitempty). kubectl
 * reports "configured" when what it sends differs from the live object, as apply() does.
 */
function storedForm(sent: Obj): Obj {
  const obj = JSON.parse(JSON.stringify(sent)) as Obj;
  if (obj.kind === "Secret" && obj.stringData) {
    const data: Obj = { ...(obj.data ?? {}) };
    for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) data[k] = Buffer.from(v, "utf8").toString("base64");
    delete obj.stringData;
    obj.data = Object.fromEntries(Object.keys(data).sort().map((k) => [k, data[k]]));
  }
  const pod: Obj | undefined = obj.kind === "Pod" ? obj.spec : obj.spec?.template?.spec ?? obj.spec?.jobTemplate?.spec?.template?.spec;
  for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) for (const e of c.env ?? []) if (e.value === "") delete e.value;
  return obj;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function parseDuration(text: string | undefined, fallback: number): number {
  if (!text) return fallback;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new NodeError(`invalid duration ${text}`);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

/** The passwd and group entries of this machine's root (the image's). */
function readIds(): { users: Map<string, { uid: number; gid: number; home: string; name: string }>; groups: { name: string; gid: number; members: string[] }[] } {
  const users = new Map<string, { uid: number; gid: number; home: string; name: string }>();
  for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f.length < 7) continue;
    const u = { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
    users.set(f[0], u);
    if (!users.has(`#${f[2]}`)) users.set(`#${f[2]}`, u);
  }
  const groups = fs
    .readFileSync("/etc/group", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: f[3] ? f[3].split(",") : [] }));
  return { users, groups };
}

/** Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, anything else stays. */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (all === "$$") return "$";
    return name !== undefined && Object.prototype.hasOwnProperty.call(env, name) ? env[name] : all;
  });
}

export class Node {
  private objects = new Map<string, Obj>();
  private pods = new Map<string, Pod>();
  private services = new Map<string, ServiceRun>();
  private jobs = new Map<string, JobRun>();
  private workloads = new Map<string, WorkloadRun>();
  private procs = new Set<ChildProcess>();
  private hostProcs = new Set<ChildProcess>();
  private nextPod = 0;
  private nextService = 0;
  private stopped = false;
  private images = new Map<string, ImageConfig>();
  readonly runDir: string;
  readonly logDir: string;
  readonly volumesDir: string;

  constructor(
    readonly stateDir: string,
    private readonly imagesDir = IMAGES_DIR,
  ) {
    this.runDir = path.join(stateDir, "run");
    this.logDir = path.join(stateDir, "logs");
    this.volumesDir = path.join(stateDir, "volumes");
  }

  /** The node's own network and the tmpfs that holds every container's writable layer. */
  setUp(): void {
    for (const d of [this.runDir, this.logDir, this.volumesDir]) fs.mkdirSync(d, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0755", "e2e-node", this.runDir]);
    // The pods' named network namespaces live in /run/netns: a folder of this node's own (in its
    // private mount namespace), so that two nodes, or anyone's `ip netns`, never share a name.
    fs.mkdirSync("/run/netns", { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "mode=0755", "e2e-netns", "/run/netns"]);
    this.ip("link", "set", "lo", "up");
    this.ip("link", "add", "br0", "type", "bridge");
    this.ip("addr", "add", `${NODE_IP}/${PREFIX_LEN}`, "dev", "br0");
    this.ip("link", "set", "br0", "up");
    this.event(`node up: ${NODE_IP}/${PREFIX_LEN} on br0`);
  }

  private ip(...args: string[]): void {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  }

  event(message: string): void {
    fs.appendFileSync(path.join(this.logDir, "node.log"), `${new Date().toISOString()} ${message}\n`);
  }

  /** Every process the node has started and that still runs (the test checks none is left). */
  livePids(): number[] {
    return [...this.procs].filter((p) => p.exitCode === null && p.signalCode === null && p.pid !== undefined).map((p) => p.pid!);
  }

  // ---------------------------------------------------------------- kubectl

  async kubectl(argv: string[], stdin?: Buffer): Promise<KubectlReply> {
    const out: Buffer[] = [];
    const err: string[] = [];
    const print = (s: string | Buffer): void => {
      out.push(typeof s === "string" ? Buffer.from(s) : s);
    };
    let code = 0;
    try {
      code = await this.dispatch(argv, print, (s) => err.push(s), stdin);
    } catch (e) {
      err.push(`error: ${e instanceof NodeError ? e.message : (e as Error).stack}\n`);
      code = 1;
    }
    return { code, stdout: Buffer.concat(out).toString("base64"), stderr: err.join("") };
  }

  private async dispatch(argv: string[], print: (s: string | Buffer) => void, printErr: (s: string) => void, stdin?: Buffer): Promise<number> {
    const dashdash = argv.indexOf("--");
    const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
    const command = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
    const flags: Record<string, string[]> = {};
    const words: string[] = [];
    const valued = new Set(["-f", "--filename", "-n", "--namespace", "--for", "--timeout", "-c", "--container", "-l", "--selector", "-o", "--output", "--tail"]);
    for (let i = 0; i < own.length; i++) {
      const a = own[i];
      if (a.startsWith("--") && a.includes("=")) {
        const [k, v] = [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)];
        (flags[k] ??= []).push(v);
      } else if (valued.has(a)) (flags[a] ??= []).push(own[++i]);
      else if (a.startsWith("-")) (flags[a] ??= []).push("");
      else words.push(a);
    }
    const ns = flags["-n"]?.[0] ?? flags["--namespace"]?.[0];
    const timeout = parseDuration(flags["--timeout"]?.[0], 30000);
    const [verb, ...rest] = words;
    switch (verb) {
      case "apply": {
        const dryRun = (flags["--dry-run"] ?? []).length > 0;
        for (const file of [...(flags["-f"] ?? []), ...(flags["--filename"] ?? [])]) {
          for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8")) as Obj[]) {
            if (!doc) continue;
            print(`${this.apply(doc, ns, dryRun)}\n`);
          }
        }
        return 0;
      }
      case "wait": {
        const cond = flags["--for"]?.[0];
        if (cond !== "condition=complete") throw new NodeError(`wait --for=${cond} is not supported by the e2e node`);
        for (const ref of rest) await this.waitJob(this.refName(ref, "job"), ns ?? "default", timeout);
        for (const ref of rest) print(`job.batch/${this.refName(ref, "job")} condition met\n`);
        return 0;
      }
      case "rollout": {
        if (rest[0] !== "status") throw new NodeError(`rollout ${rest[0]} is not supported by the e2e node`);
        const [kind, name] = rest[1].split("/");
        await this.waitRollout(`${this.kindOf(kind)}/${ns ?? "default"}/${name}`, timeout);
        print(`${kind} "${name}" successfully rolled out\n`);
        return 0;
      }
      case "get": {
        if ((flags["-o"]?.[0] ?? flags["--output"]?.[0] ?? "").startsWith("jsonpath")) {
          // apply.sh --prune's listing: every managed object of the namespace.
          for (const o of this.objects.values()) {
            if ((o.metadata.namespace ?? "") === (ns ?? "default") && o.metadata.labels?.["app.kubernetes.io/managed-by"] === "gen-manifests")
              print(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}\n`);
          }
          return 0;
        }
        if (rest[0] === "pods" || rest[0] === "pod") {
          for (const p of this.pods.values()) {
            const ready = p.containers.filter((c) => !c.init && c.ready).length;
            const total = p.containers.filter((c) => !c.init).length;
            const restarts = p.containers.reduce((n, c) => n + c.restarts, 0);
            print(`${p.namespace}/${p.name}\t${ready}/${total}\t${p.phase}\t${restarts}\t${p.ip}${p.message ? `\t${p.message}` : ""}\n`);
          }
          return 0;
        }
        throw new NodeError(`get ${rest.join(" ")} is not supported by the e2e node`);
      }
      case "delete": {
        if (rest[0] === "jobs" || rest[0] === "job") {
          if (!flags["--all"]) throw new NodeError("delete jobs: only --all is supported");
          for (const [key] of this.jobs) if (key.startsWith(`Job/${ns ?? "default"}/`)) await this.delete(key);
          return 0;
        }
        for (const ref of rest) {
          const [kind, name] = ref.split("/");
          const key = `${this.kindOf(kind)}/${ns ?? "default"}/${name}`;
          if (this.objects.has(key)) {
            await this.delete(key);
            print(`${kind.toLowerCase()} "${name}" deleted\n`);
          } else if (!flags["--ignore-not-found"]) throw new NodeError(`${ref} not found`);
        }
        return 0;
      }
      case "exec": {
        const pod = this.targetPod(rest[0], ns ?? "default");
        const c = this.container(pod, flags["-c"]?.[0] ?? flags["--container"]?.[0]);
        if (!command.length) throw new NodeError("exec: no command after --");
        const r = await this.execIn(pod, c, command, flags["-i"] || flags["--stdin"] ? stdin : undefined, 600000);
        print(r.stdout);
        printErr(r.stderr.toString());
        return r.code;
      }
      case "logs": {
        const pod = this.targetPod(rest[0], ns ?? "default");
        const c = this.container(pod, flags["-c"]?.[0] ?? flags["--container"]?.[0]);
        const file = this.logFile(pod, c.name);
        print(fs.existsSync(file) ? fs.readFileSync(file) : "");
        return 0;
      }
      default:
        throw new NodeError(`kubectl ${verb} is not supported by the e2e node`);
    }
  }

  private kindOf(word: string): string {
    const w = word.toLowerCase().split(".")[0];
    const kinds: Record<string, string> = {
      job: "Job", jobs: "Job", deployment: "Deployment", deployments: "Deployment", deploy: "Deployment",
      statefulset: "StatefulSet", statefulsets: "StatefulSet", sts: "StatefulSet", service: "Service", svc: "Service",
      secret: "Secret", configmap: "ConfigMap", cm: "ConfigMap", pod: "Pod", namespace: "Namespace", pvc: "PersistentVolumeClaim",
      persistentvolumeclaim: "PersistentVolumeClaim", daemonset: "DaemonSet",
    };
    const k = kinds[w];
    if (!k) throw new NodeError(`unknown kind ${word}`);
    return k;
  }

  private refName(ref: string, kind: string): string {
    const [k, name] = ref.includes("/") ? ref.split("/") : [kind, ref];
    if (this.kindOf(k) !== this.kindOf(kind)) throw new NodeError(`expected a ${kind}, got ${ref}`);
    return name;
  }

  private targetPod(ref: string, ns: string): Pod {
    const [k, name] = ref.includes("/") ? ref.split("/") : ["pod", ref];
    const kind = this.kindOf(k);
    if (kind === "Pod") {
      const p = this.pods.get(`${ns}/${name}`);
      if (!p) throw new NodeError(`pod ${ns}/${name} not found`);
      return p;
    }
    const run = kind === "Job" ? this.jobs.get(`Job/${ns}/${name}`) : this.workloads.get(`${kind}/${ns}/${name}`);
    const pod = run?.pods.find((p) => p.phase === "Running") ?? run?.pods[run.pods.length - 1];
    if (!pod) throw new NodeError(`${ref} has no pod`);
    return pod;
  }

  private container(pod: Pod, name?: string): ContainerRun {
    const c = name ? pod.containers.find((x) => x.name === name) : pod.containers.find((x) => !x.init);
    if (!c) throw new NodeError(`pod ${pod.name} has no container ${name}`);
    return c;
  }

  // ---------------------------------------------------------------- apply

  /** Creates or updates one object, as the API server and the controllers would; returns kubectl's line. */
  apply(input: Obj, namespaceFlag: string | undefined, dryRun: boolean): string {
    const sent = JSON.parse(JSON.stringify(input)) as Obj;
    const kind = sent.kind as string;
    const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume"].includes(kind);
    if (!clusterScoped) sent.metadata.namespace ??= namespaceFlag ?? "default";
    const obj = storedForm(sent);
    const key = `${kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    const word = `${kind.toLowerCase()}${["Deployment", "StatefulSet", "DaemonSet"].includes(kind) ? ".apps" : kind === "Job" ? ".batch" : ""}/${obj.metadata.name}`;
    const old = this.objects.get(key);
    const suffix = dryRun ? " (server dry run)" : "";
    // Unchanged only if what is sent is what is stored: a field the server folded or dropped is sent again every time.
    if (old && JSON.stringify(old) === JSON.stringify(sent)) return `${word} unchanged${suffix}`;
    if (old) this.checkImmutable(old, obj);
    if (dryRun) return `${word} ${old ? "configured" : "created"}${suffix}`;
    this.objects.set(key, obj);
    this.event(`apply ${key} (${old ? "configured" : "created"})`);
    switch (kind) {
      case "Service":
        this.applyService(key, obj);
        break;
      case "Job":
        this.startJob(key, obj);
        break;
      case "Deployment":
      case "StatefulSet":
        void this.reconcileWorkload(key, obj);
        break;
      case "Namespace":
      case "Secret":
      case "ConfigMap":
      case "PersistentVolumeClaim":
      case "ServiceAccount":
      case "Role":
      case "RoleBinding":
      case "NetworkPolicy":
      case "PodDisruptionBudget":
        break;
      default:
        throw new NodeError(`the e2e node cannot run a ${kind} (${key})`);
    }
    return `${word} ${old ? "configured" : "created"}`;
  }

  /** The API server's refusals of an update, for the fields this node knows to be immutable. */
  private checkImmutable(old: Obj, obj: Obj): void {
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    const name = `${obj.kind} "${obj.metadata.name}"`;
    if (obj.kind === "Job" && !same(old.spec.template, obj.spec.template))
      throw new NodeError(`The ${name} is invalid: spec.template: Invalid value: field is immutable`);
    if (obj.kind === "Deployment" && !same(old.spec.selector, obj.spec.selector))
      throw new NodeError(`The ${name} is invalid: spec.selector: Invalid value: field is immutable`);
    if (obj.kind === "StatefulSet") {
      const fixed = (s: Obj): unknown => ({ ...s, replicas: 0, template: 0, updateStrategy: 0, minReadySeconds: 0, persistentVolumeClaimRetentionPolicy: 0, ordinals: 0 });
      if (!same(fixed(old.spec), fixed(obj.spec)))
        throw new NodeError(`The ${name} is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`);
    }
    if (obj.kind === "Service" && old.spec.clusterIP !== undefined && obj.spec.clusterIP !== undefined && old.spec.clusterIP !== obj.spec.clusterIP)
      throw new NodeError(`The ${name} is invalid: spec.clusterIP: Invalid value: field is immutable`);
  }

  private async delete(key: string): Promise<void> {
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.event(`delete ${key}`);
    const job = this.jobs.get(key);
    if (job) {
      clearTimeout(job.timer);
      this.jobs.delete(key);
      await Promise.all(job.pods.map((p) => this.stopPod(p)));
    }
    const w = this.workloads.get(key);
    if (w) {
      this.workloads.delete(key);
      await Promise.all(w.pods.map((p) => this.stopPod(p)));
    }
    const s = this.services.get(key);
    if (s) {
      this.services.delete(key);
      for (const server of s.servers) server.close();
      this.writeHosts();
    }
  }

  // ---------------------------------------------------------------- services

  private applyService(key: string, obj: Obj): void {
    const old = this.services.get(key);
    for (const server of old?.servers ?? []) server.close();
    const headless = obj.spec.clusterIP === "None";
    const clusterIP = headless ? undefined : (old?.clusterIP ?? `198.19.0.${++this.nextService}`);
    const run: ServiceRun = { obj, clusterIP, servers: [] };
    this.services.set(key, run);
    if (clusterIP) {
      if (!old) this.ip("addr", "add", `${clusterIP}/32`, "dev", "lo");
      for (const port of obj.spec.ports ?? []) {
        if ((port.protocol ?? "TCP") !== "TCP") continue;
        // kube-proxy's userspace mode: each connection goes to a ready pod that the Service selects.
        let turn = 0;
        const server = net.createServer((client) => {
          const endpoints = this.endpoints(run.obj, port);
          if (!endpoints.length) {
            client.destroy();
            return;
          }
          const target = endpoints[turn++ % endpoints.length];
          const upstream = net.connect(target.port, target.ip);
          client.pipe(upstream).pipe(client);
          const close = (): void => {
            client.destroy();
            upstream.destroy();
          };
          client.on("error", close);
          upstream.on("error", close);
        });
        server.on("error", (e) => this.event(`service ${key} port ${port.port}: ${e.message}`));
        server.listen(port.port, clusterIP);
        run.servers.push(server);
      }
    }
    this.writeHosts();
  }

  /** The ready pods a Service selects, each with the port its targetPort names. */
  private endpoints(svc: Obj, port: Obj): { ip: string; port: number }[] {
    const selector: Record<string, string> | undefined = svc.spec.selector;
    if (!selector) return [];
    const result: { ip: string; port: number }[] = [];
    for (const pod of this.pods.values()) {
      if (pod.namespace !== svc.metadata.namespace || pod.stopping || pod.phase !== "Running") continue;
      if (!Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) continue;
      if (!svc.spec.publishNotReadyAddresses && !this.podReady(pod)) continue;
      const target = port.targetPort ?? port.port;
      const number = typeof target === "number" ? target : this.namedPort(pod, target);
      if (number !== undefined) result.push({ ip: pod.ip, port: number });
    }
    return result;
  }

  private namedPort(pod: Pod, name: string): number | undefined {
    for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
    return undefined;
  }

  private podReady(pod: Pod): boolean {
    return pod.phase === "Running" && pod.containers.filter((c) => !c.init).every((c) => c.ready);
  }

  /** Every pod's /etc/hosts: itself, every Service, and the pods of headless Services by name. */
  private hostsText(pod: Pod): string {
    const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
    const domain = "svc.cluster.local";
    const own = pod.spec.hostname ?? pod.name;
    const sub = pod.spec.subdomain ? [`${own}.${pod.spec.subdomain}.${pod.namespace}.${domain}`, `${own}.${pod.spec.subdomain}`] : [];
    lines.push(`${pod.ip}\t${[...sub, own].join(" ")}`);
    for (const { obj, clusterIP } of this.services.values()) {
      const n = obj.metadata.name;
      const s = obj.metadata.namespace;
      const names = [`${n}.${s}.${domain}`, `${n}.${s}.svc`, `${n}.${s}`, ...(s === pod.namespace ? [n] : [])];
      if (clusterIP) lines.push(`${clusterIP}\t${names.join(" ")}`);
      else {
        for (const p of this.pods.values()) {
          if (p.namespace !== s || p.stopping || !obj.spec.selector) continue;
          if (!Object.entries(obj.spec.selector as Record<string, string>).every(([k, v]) => p.labels[k] === v)) continue;
          lines.push(`${p.ip}\t${names.join(" ")}`);
          if (p.spec.subdomain === n) {
            const h = p.spec.hostname ?? p.name;
            lines.push(`${p.ip}\t${h}.${n}.${s}.${domain} ${h}.${n}.${s}.svc ${h}.${n}.${s}${s === pod.namespace ? ` ${h}.${n}` : ""}`);
          }
        }
      }
    }
    for (const alias of pod.spec.hostAliases ?? []) lines.push(`${alias.ip}\t${(alias.hostnames ?? []).join(" ")}`);
    return lines.join("\n") + "\n";
  }

  private writeHosts(): void {
    // Written in place: the file is bound into running sandboxes by its inode.
    for (const pod of this.pods.values()) if (!pod.stopping) fs.writeFileSync(pod.hostsFile, this.hostsText(pod));
  }

  // ---------------------------------------------------------------- jobs and workloads

  private startJob(key: string, obj: Obj): void {
    const old = this.jobs.get(key);
    if (old) return; // an unchanged template (immutable otherwise): nothing to do
    const run: JobRun = { obj, failures: 0, status: "Running", pods: [] };
    this.jobs.set(key, run);
    const attempt = (): void => {
      if (this.stopped || this.jobs.get(key) !== run) return;
      const pod = this.createPod(obj.spec.template, obj.metadata.namespace, `${obj.metadata.name}-${run.pods.length}`, { kind: "Job", name: obj.metadata.name }, {});
      pod.restartLimit = (obj.spec.backoffLimit ?? 6) - run.failures;
      run.pods.push(pod);
      void pod.done.then(() => {
        if (this.jobs.get(key) !== run || pod.stopping) return;
        if (pod.phase === "Succeeded") {
          run.status = "Complete";
          this.event(`job ${key} complete`);
          return;
        }
        run.failures += 1 + pod.containers.reduce((n, c) => n + c.restarts, 0);
        const limit = obj.spec.backoffLimit ?? 6;
        if (run.failures > limit) {
          run.status = "Failed";
          run.message = `BackoffLimitExceeded: ${run.failures} failed pods (last: ${pod.message ?? "failed"})`;
          this.event(`job ${key} failed: ${run.message}`);
          return;
        }
        // The job controller's back-off, 10 s doubling, capped here at 40 s to keep the test short.
        const delay = Math.min(10000 * 2 ** (run.failures - 1), 40000);
        this.event(`job ${key}: pod ${pod.name} failed (${pod.message ?? ""}); retry in ${delay / 1000}s`);
        run.timer = setTimeout(attempt, delay);
      });
    };
    attempt();
  }

  private async waitJob(name: string, ns: string, timeout: number): Promise<void> {
    const key = `Job/${ns}/${name}`;
    const deadline = Date.now() + timeout;
    for (;;) {
      const run = this.jobs.get(key);
      if (!run) throw new NodeError(`jobs.batch "${name}" not found`);
      if (run.status === "Complete") return;
      if (run.status === "Failed") throw new NodeError(`job ${ns}/${name} failed: ${run.message}; logs in ${this.logDir}`);
      if (Date.now() > deadline) throw new NodeError(`timed out waiting for the condition on jobs/${name}; logs in ${this.logDir}`);
      await sleep(250);
    }
  }

  private async reconcileWorkload(key: string, obj: Obj): Promise<void> {
    const templateHash = hash(obj.spec.template);
    const old = this.workloads.get(key);
    const run: WorkloadRun = { obj, pods: [], hash: templateHash };
    if (old && old.hash === templateHash && old.pods.length === (obj.spec.replicas ?? 1)) {
      old.obj = obj;
      return;
    }
    this.workloads.set(key, run);
    if (old) await Promise.all(old.pods.map((p) => this.stopPod(p)));
    const replicas = obj.spec.replicas ?? 1;
    const owner = { kind: obj.kind as string, name: obj.metadata.name as string };
    for (let i = 0; i < replicas; i++) {
      if (this.workloads.get(key) !== run || this.stopped) return;
      if (obj.kind === "StatefulSet") {
        const podName = `${obj.metadata.name}-${i}`;
        const claims: Record<string, string> = {};
        for (const t of obj.spec.volumeClaimTemplates ?? []) claims[t.metadata.name] = `${t.metadata.name}-${podName}`;
        const template = JSON.parse(JSON.stringify(obj.spec.template)) as Obj;
        template.spec.hostname = podName;
        template.spec.subdomain = obj.spec.serviceName;
        const pod = this.createPod(template, obj.metadata.namespace, podName, owner, claims);
        run.pods.push(pod);
        // OrderedReady: the next pod starts when this one is ready.
        if ((obj.spec.podManagementPolicy ?? "OrderedReady") === "OrderedReady") await this.untilReady(pod);
      } else {
        run.pods.push(this.createPod(obj.spec.template, obj.metadata.namespace, `${obj.metadata.name}-${templateHash.slice(0, 5)}-${i}`, owner, {}));
      }
    }
  }

  private async untilReady(pod: Pod): Promise<void> {
    while (!pod.stopping && !this.stopped && !this.podReady(pod)) await sleep(250);
  }

  private async waitRollout(key: string, timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const run = this.workloads.get(key);
      if (!run) throw new NodeError(`${key} not found`);
      const want = run.obj.spec.replicas ?? 1;
      if (run.pods.length === want && run.pods.every((p) => this.podReady(p))) return;
      if (Date.now() > deadline) {
        const states = run.pods.map((p) => `${p.name}: ${p.phase}${p.message ? ` (${p.message})` : ""}, ready ${p.containers.filter((c) => !c.init && c.ready).map((c) => c.name).join(",") || "none"}`);
        throw new NodeError(`timed out waiting for ${key} to roll out: ${states.join("; ") || "no pods"}; logs in ${this.logDir}`);
      }
      await sleep(250);
    }
  }

  // ---------------------------------------------------------------- pods

  private createPod(template: Obj, namespace: string, name: string, owner: { kind: string; name: string }, claims: Record<string, string>): Pod {
    const index = ++this.nextPod;
    const ip = `198.18.${1 + Math.floor((index - 1) / 250)}.${((index - 1) % 250) + 2}`;
    const dir = path.join(this.runDir, "pods", `${namespace}_${name}_${index}`);
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const pod: Pod = {
      key: `${namespace}/${name}`,
      name,
      namespace,
      index,
      ip,
      netns: `pod${index}`,
      labels: template.metadata?.labels ?? {},
      spec: template.spec,
      owner,
      dir,
      hostsFile: path.join(dir, "hosts"),
      phase: "Pending",
      containers: [],
      stopping: false,
      done,
      resolveDone,
    };
    const previous = this.pods.get(pod.key);
    if (previous && !previous.stopping) throw new NodeError(`pod ${pod.key} exists`);
    this.pods.set(pod.key, pod);
    void this.runPod(pod, claims).catch((e: Error) => {
      pod.phase = "Failed";
      pod.message = e instanceof NodeError ? e.message : String(e.stack);
      this.event(`pod ${pod.key}: ${pod.message}`);
      pod.resolveDone();
    });
    return pod;
  }

  private async runPod(pod: Pod, claims: Record<string, string>): Promise<void> {
    fs.mkdirSync(pod.dir, { recursive: true });
    this.event(`pod ${pod.key} (${pod.owner.kind} ${pod.owner.name}) on ${pod.ip}, netns ${pod.netns}`);
    // Its network: a namespace, a veth pair on the node's bridge, the node as its gateway.
    const n = pod.index;
    this.ip("netns", "add", pod.netns);
    this.ip("link", "add", `vh${n}`, "type", "veth", "peer", "name", `vp${n}`);
    this.ip("link", "set", `vh${n}`, "master", "br0", "up");
    this.ip("link", "set", `vp${n}`, "netns", pod.netns);
    this.ip("-n", pod.netns, "link", "set", "lo", "up");
    this.ip("-n", pod.netns, "link", "set", `vp${n}`, "name", "eth0");
    this.ip("-n", pod.netns, "addr", "add", `${pod.ip}/${PREFIX_LEN}`, "dev", "eth0");
    this.ip("-n", pod.netns, "link", "set", "eth0", "up");
    this.ip("-n", pod.netns, "route", "add", "default", "via", NODE_IP);
    fs.writeFileSync(path.join(pod.dir, "hostname"), `${pod.spec.hostname ?? pod.name}\n`);
    fs.writeFileSync(path.join(pod.dir, "resolv.conf"), "# no DNS in the e2e node: every name is in /etc/hosts\noptions ndots:1 attempts:1 timeout:1\n");
    this.writeHosts();
    const specs: [Obj, boolean][] = [...(pod.spec.initContainers ?? []).map((c: Obj): [Obj, boolean] => [c, true]), ...pod.spec.containers.map((c: Obj): [Obj, boolean] => [c, false])];
    let volumes: Map<string, { dir: string; readOnly: boolean }>;
    for (;;) {
      try {
        volumes = this.materializeVolumes(pod, claims);
        pod.containers = specs.map(([spec, init]) => this.prepareContainer(pod, spec, init));
        break;
      } catch (e) {
        if (!(e instanceof WaitingError) || pod.stopping || this.stopped) throw e;
        if (pod.message !== e.message) this.event(`pod ${pod.key} waits: ${e.message}`);
        pod.message = e.message;
        await sleep(1000);
      }
    }
    pod.message = undefined;
    const policy: string = pod.spec.restartPolicy ?? "Always";
    pod.phase = "Running";
    for (const c of pod.containers.filter((x) => x.init)) {
      for (;;) {
        const code = await this.runContainer(pod, c, volumes);
        if (pod.stopping) return;
        if (code === 0) break;
        if (policy === "Never" || (pod.restartLimit !== undefined && c.restarts >= pod.restartLimit)) throw new NodeError(`init container ${c.name} exited with ${code}`);
        await this.backOff(pod, c);
      }
    }
    const mains = pod.containers.filter((x) => !x.init);
    const results = await Promise.all(
      mains.map(async (c) => {
        for (;;) {
          const code = await this.runContainer(pod, c, volumes, true);
          if (pod.stopping) return code;
          if (policy === "Never" || (policy === "OnFailure" && code === 0)) return code;
          if (pod.restartLimit !== undefined && c.restarts >= pod.restartLimit) return code;
          await this.backOff(pod, c);
          if (pod.stopping) return code;
        }
      }),
    );
    if (pod.stopping) return;
    const failed = results.map((code, i) => [code, mains[i].name] as const).filter(([code]) => code !== 0);
    pod.phase = failed.length ? "Failed" : "Succeeded";
    if (failed.length) pod.message = failed.map(([code, c]) => `container ${c} exited with ${code}`).join(", ");
    this.event(`pod ${pod.key} ${pod.phase}${pod.message ? `: ${pod.message}` : ""}`);
    pod.resolveDone();
  }

  private async backOff(pod: Pod, c: ContainerRun): Promise<void> {
    c.restarts++;
    // The kubelet's crash-loop back-off, 10 s doubling, capped here at 40 s.
    const delay = Math.min(10000 * 2 ** (c.restarts - 1), 40000);
    this.event(`pod ${pod.key} container ${c.name}: restart ${c.restarts} in ${delay / 1000}s`);
    await sleep(delay);
  }

  /** Resolves a container's user and environment once, as the kubelet does when it creates it. */
  private prepareContainer(pod: Pod, spec: Obj, init: boolean): ContainerRun {
    const image = this.image(spec.image);
    const ids = readIds();
    const sc = { ...(pod.spec.securityContext ?? {}), ...(spec.securityContext ?? {}) };
    let uid: number;
    let gid: number;
    let home = "/";
    const userName = image.user ?? "0";
    if (sc.runAsUser !== undefined) {
      uid = sc.runAsUser;
      const u = ids.users.get(`#${uid}`);
      gid = sc.runAsGroup ?? u?.gid ?? 0;
      home = u?.home ?? "/";
    } else {
      const [userPart, groupPart] = userName.split(":");
      if (sc.runAsNonRoot && !/^\d+$/.test(userPart))
        throw new NodeError(`container ${spec.name}: container has runAsNonRoot and image has non-numeric user (${userPart}), cannot verify user is non-root`);
      const u = /^\d+$/.test(userPart) ? ids.users.get(`#${userPart}`) : ids.users.get(userPart);
      if (!u && !/^\d+$/.test(userPart)) throw new NodeError(`container ${spec.name}: the image's user ${userPart} does not exist`);
      uid = u?.uid ?? Number(userPart);
      gid = sc.runAsGroup ?? (groupPart !== undefined ? Number(groupPart) : (u?.gid ?? 0));
      home = u?.home ?? "/";
    }
    if (sc.runAsNonRoot && uid === 0) throw new NodeError(`container ${spec.name}: container has runAsNonRoot and would run as root`);
    const userEntry = ids.users.get(`#${uid}`);
    const groups = new Set<number>(ids.groups.filter((g) => userEntry && g.members.includes(userEntry.name)).map((g) => g.gid));
    if (sc.fsGroup !== undefined) groups.add(sc.fsGroup);
    for (const g of sc.supplementalGroups ?? []) groups.add(g);
    return {
      name: spec.name,
      spec,
      init,
      env: this.containerEnv(pod, spec, image, home),
      user: { uid, gid, groups: [...groups], home },
      restarts: 0,
      running: false,
      ready: false,
      started: false,
      failures: { liveness: 0, readiness: 0, startup: 0 },
      timers: [],
    };
  }

  private image(reference: string): ImageConfig {
    if (!reference || /:latest$/.test(reference) || !/:[^/]+$/.test(reference)) throw new NodeError(`image ${reference}: a pinned tag is required`);
    const name = imageNameOf(reference);
    let config = this.images.get(name);
    if (!config) {
      if (!fs.existsSync(path.join(this.imagesDir, name, "Dockerfile"))) throw new NodeError(`image ${reference}: no images/${name}/Dockerfile builds it`);
      config = imageConfig(name, this.imagesDir);
      this.images.set(name, config);
    }
    return config;
  }

  private secretValue(ns: string, kind: "Secret" | "ConfigMap", name: string, key: string, optional: boolean): string | undefined {
    const obj = this.objects.get(`${kind}/${ns}/${name}`);
    const data = obj ? this.objectData(obj) : undefined;
    if (data && key in data) return data[key].toString("utf8");
    if (optional) return undefined;
    throw new WaitingError(`CreateContainerConfigError: ${obj ? `couldn't find key ${key} in ${kind} ${ns}/${name}` : `${kind.toLowerCase()} "${name}" not found`}`);
  }

  private objectData(obj: Obj): Record<string, Buffer> {
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries((obj.kind === "Secret" ? obj.data : obj.binaryData) ?? {})) out[k] = Buffer.from(v as string, "base64");
    for (const [k, v] of Object.entries((obj.kind === "Secret" ? obj.stringData : obj.data) ?? {})) out[k] = Buffer.from(v as string, "utf8");
    return out;
  }

  private containerEnv(pod: Pod, spec: Obj, image: ImageConfig, home: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ...image.env,
      HOSTNAME: pod.spec.hostname ?? pod.name,
      HOME: home,
    };
    if (pod.spec.enableServiceLinks !== false) {
      for (const { obj, clusterIP } of this.services.values()) {
        if (obj.metadata.namespace !== pod.namespace || !clusterIP) continue;
        const p = obj.metadata.name.toUpperCase().replace(/-/g, "_");
        const ports: Obj[] = obj.spec.ports ?? [];
        if (!ports.length) continue;
        env[`${p}_SERVICE_HOST`] = clusterIP;
        env[`${p}_SERVICE_PORT`] = String(ports[0].port);
        env[`${p}_PORT`] = `${(ports[0].protocol ?? "TCP").toLowerCase()}://${clusterIP}:${ports[0].port}`;
        for (const port of ports) {
          const proto = (port.protocol ?? "TCP").toUpperCase();
          if (port.name) env[`${p}_SERVICE_PORT_${port.name.toUpperCase().replace(/-/g, "_")}`] = String(port.port);
          const base = `${p}_PORT_${port.port}_${proto}`;
          env[base] = `${proto.toLowerCase()}://${clusterIP}:${port.port}`;
          env[`${base}_PROTO`] = proto.toLowerCase();
          env[`${base}_PORT`] = String(port.port);
          env[`${base}_ADDR`] = clusterIP;
        }
      }
    }
    for (const from of spec.envFrom ?? []) {
      const ref = from.secretRef ?? from.configMapRef;
      const kind = from.secretRef ? "Secret" : "ConfigMap";
      const obj = this.objects.get(`${kind}/${pod.namespace}/${ref.name}`);
      if (!obj) {
        if (ref.optional) continue;
        throw new WaitingError(`CreateContainerConfigError: ${kind.toLowerCase()} "${ref.name}" not found`);
      }
      for (const [k, v] of Object.entries(this.objectData(obj))) env[`${from.prefix ?? ""}${k}`] = v.toString("utf8");
    }
    for (const e of spec.env ?? []) {
      if (e.valueFrom === undefined) {
        env[e.name] = expandVars(e.value ?? "", env);
        continue;
      }
      const vf = e.valueFrom;
      let value: string | undefined;
      if (vf.secretKeyRef) value = this.secretValue(pod.namespace, "Secret", vf.secretKeyRef.name, vf.secretKeyRef.key, !!vf.secretKeyRef.optional);
      else if (vf.configMapKeyRef) value = this.secretValue(pod.namespace, "ConfigMap", vf.configMapKeyRef.name, vf.configMapKeyRef.key, !!vf.configMapKeyRef.optional);
      else if (vf.fieldRef) {
        const f: string = vf.fieldRef.fieldPath;
        const label = /^metadata\.labels\['(.+)'\]$/.exec(f);
        value = {
          "metadata.name": pod.name,
          "metadata.namespace": pod.namespace,
          "status.podIP": pod.ip,
          "status.podIPs": pod.ip,
          "status.hostIP": NODE_IP,
          "spec.nodeName": "e2e-node",
          "spec.serviceAccountName": pod.spec.serviceAccountName ?? "default",
        }[f] ?? (label ? pod.labels[label[1]] : undefined);
        if (value === undefined) throw new NodeError(`fieldRef ${f} is not supported by the e2e node`);
      } else if (vf.resourceFieldRef) {
        const r = vf.resourceFieldRef.resource as string;
        const [kindOf, what] = r.split(".");
        const q = spec.resources?.[kindOf]?.[what];
        value = q === undefined ? "0" : String(q);
      } else throw new NodeError(`env ${e.name}: unsupported valueFrom`);
      if (value !== undefined) env[e.name] = value;
    }
    return env;
  }

  /**
   * Writes each volume of the pod as the kubelet would: Secrets and ConfigMaps as files (mode
   * defaultMode or the item's, owned by root and fsGroup), emptyDirs, and claims kept for the
   * node's life (a StatefulSet's by its volumeClaimTemplates).
   */
  private materializeVolumes(pod: Pod, claims: Record<string, string>): Map<string, { dir: string; readOnly: boolean }> {
    const result = new Map<string, { dir: string; readOnly: boolean }>();
    const fsGroup: number | undefined = pod.spec.securityContext?.fsGroup;
    const own = (p: string): void => {
      if (fsGroup !== undefined) fs.chownSync(p, 0, fsGroup);
    };
    const names = new Set<string>([...(pod.spec.volumes ?? []).map((v: Obj) => v.name), ...Object.keys(claims)]);
    for (const name of names) {
      const v: Obj = (pod.spec.volumes ?? []).find((x: Obj) => x.name === name) ?? { name, persistentVolumeClaim: { claimName: claims[name] } };
      const dir = path.join(pod.dir, "volumes", name);
      if (v.secret || v.configMap) {
        const kind = v.secret ? "Secret" : "ConfigMap";
        const ref = v.secret ?? v.configMap;
        const refName = v.secret ? ref.secretName : ref.name;
        const obj = this.objects.get(`${kind}/${pod.namespace}/${refName}`);
        if (!obj && !ref.optional) throw new WaitingError(`MountVolume.SetUp failed for volume "${name}": ${kind.toLowerCase()} "${refName}" not found`);
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
        const data = obj ? this.objectData(obj) : {};
        const items: { key: string; path: string; mode?: number }[] = ref.items ?? Object.keys(data).map((k) => ({ key: k, path: k }));
        for (const item of items) {
          if (!(item.key in data)) {
            if (ref.optional) continue;
            throw new WaitingError(`MountVolume.SetUp failed for volume "${name}": configmap or secret references non-existent key ${item.key}`);
          }
          const file = path.join(dir, item.path);
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, data[item.key]);
          fs.chmodSync(file, item.mode ?? ref.defaultMode ?? 0o644);
          own(file);
        }
        result.set(name, { dir, readOnly: true });
      } else if (v.emptyDir) {
        fs.mkdirSync(dir, { recursive: true });
        fs.chmodSync(dir, 0o777);
        result.set(name, { dir, readOnly: false });
      } else if (v.persistentVolumeClaim) {
        const claimKey = `PersistentVolumeClaim/${pod.namespace}/${v.persistentVolumeClaim.claimName}`;
        if (!claims[name] && !this.objects.has(claimKey)) throw new NodeError(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" not found`);
        const pv = path.join(this.volumesDir, pod.namespace, v.persistentVolumeClaim.claimName);
        if (!fs.existsSync(pv)) {
          // A new volume: an empty file system's root, root's and 0755, group fsGroup if the pod sets one.
          fs.mkdirSync(pv, { recursive: true, mode: 0o755 });
          if (fsGroup !== undefined) {
            fs.chownSync(pv, 0, fsGroup);
            fs.chmodSync(pv, 0o2775);
          }
        }
        result.set(name, { dir: pv, readOnly: !!v.persistentVolumeClaim.readOnly });
      } else if (v.projected) {
        fs.mkdirSync(dir, { recursive: true });
        for (const source of v.projected.sources ?? []) {
          const sub = source.secret ?? source.configMap;
          if (!sub) throw new NodeError(`volume ${name}: projected source ${Object.keys(source)[0]} is not supported by the e2e node`);
          const obj = this.objects.get(`${source.secret ? "Secret" : "ConfigMap"}/${pod.namespace}/${sub.name}`);
          if (!obj) throw new WaitingError(`MountVolume.SetUp failed for volume "${name}": "${sub.name}" not found`);
          const data = this.objectData(obj);
          for (const item of sub.items ?? Object.keys(data).map((k) => ({ key: k, path: k }))) {
            const file = path.join(dir, item.path);
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, data[item.key]);
            fs.chmodSync(file, item.mode ?? v.projected.defaultMode ?? 0o644);
            own(file);
          }
        }
        result.set(name, { dir, readOnly: true });
      } else throw new NodeError(`volume ${name}: ${Object.keys(v).filter((k) => k !== "name")[0]} volumes are not supported by the e2e node`);
    }
    return result;
  }

  private logFile(pod: Pod, container: string): string {
    return path.join(this.logDir, `${pod.namespace}_${pod.name}_${container}.log`);
  }

  /** Starts one container and resolves with its exit code; probes run while it does. */
  private async runContainer(pod: Pod, c: ContainerRun, volumes: Map<string, { dir: string; readOnly: boolean }>, probed = false): Promise<number | null> {
    const id = `${pod.index}-${c.name}-${c.restarts}`;
    const base = path.join(this.runDir, "containers", id);
    const root = path.join(base, "root");
    for (const d of ["upper", "work", "root"]) fs.mkdirSync(path.join(base, d), { recursive: true });
    // The image: this machine's root, read-only below a writable layer of the container's own.
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=/,upperdir=${base}/upper,workdir=${base}/work`, root]);
    c.root = root;
    const args = [`--net=/run/netns/${pod.netns}`, "--", "bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", pod.spec.hostname ?? pod.name];
    args.push("--bind", root, "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "1777", "--tmpfs", "/var/tmp");
    args.push("--tmpfs", "/run", "--perms", "1777", "--dir", "/run/lock");
    args.push("--bind", pod.hostsFile, "/etc/hosts", "--ro-bind", path.join(pod.dir, "hostname"), "/etc/hostname", "--ro-bind", path.join(pod.dir, "resolv.conf"), "/etc/resolv.conf");
    const mounts = [...(c.spec.volumeMounts ?? [])].sort((a: Obj, b: Obj) => a.mountPath.split("/").length - b.mountPath.split("/").length);
    for (const m of mounts) {
      const v = volumes.get(m.name);
      if (!v) throw new NodeError(`container ${c.name}: volumeMount ${m.name} names no volume`);
      let source = v.dir;
      if (m.subPath) {
        source = path.join(v.dir, expandVars(m.subPath, c.env));
        if (!fs.existsSync(source)) {
          // The kubelet makes a missing subPath as a folder (for a Secret it is an error at its place).
          if (v.readOnly) throw new NodeError(`container ${c.name}: subPath ${m.subPath} is not in volume ${m.name}`);
          fs.mkdirSync(source, { recursive: true });
        }
      }
      args.push(m.readOnly || v.readOnly ? "--ro-bind" : "--bind", source, m.mountPath);
    }
    const image = this.image(c.spec.image);
    const command = (c.spec.command ?? image.entrypoint ?? []).map((s: string) => expandVars(s, c.env));
    const cmdArgs = (c.spec.args ?? (c.spec.command ? [] : (image.cmd ?? []))).map((s: string) => expandVars(s, c.env));
    const argv = [...command, ...cmdArgs];
    if (!argv.length) throw new NodeError(`container ${c.name}: no command, and image ${image.name} has none`);
    args.push("--chdir", c.spec.workingDir ?? image.workdir ?? "/", "--info-fd", "3");
    if (c.user.uid !== 0 || c.user.gid !== 0) args.push("setpriv", ...this.setprivArgs(c), "--");
    args.push(...argv);
    const log = fs.openSync(this.logFile(pod, c.name), "a");
    fs.writeSync(log, `--- ${new Date().toISOString()} start ${argv.map((a) => JSON.stringify(a)).join(" ")} as ${c.user.uid}:${c.user.gid}\n`);
    const proc = spawn("nsenter", args, { env: c.env, stdio: ["ignore", log, log, "pipe"], detached: true });
    fs.closeSync(log);
    this.procs.add(proc);
    c.proc = proc;
    c.running = true;
    c.ready = false;
    c.started = false;
    c.failures = { liveness: 0, readiness: 0, startup: 0 };
    let info = "";
    (proc.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => {
      info += d.toString();
      const m = /"child-pid":\s*(\d+)/.exec(info);
      if (m) c.sandboxPid = Number(m[1]);
    });
    c.exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + (os_signals[signal] ?? 15) : null))));
    if (probed) this.startProbes(pod, c);
    const code = await c.exited;
    c.running = false;
    c.ready = false;
    c.exitCode = code;
    c.sandboxPid = undefined;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    this.procs.delete(proc);
    fs.appendFileSync(this.logFile(pod, c.name), `--- ${new Date().toISOString()} exit ${code}\n`);
    this.event(`pod ${pod.key} container ${c.name} exited with ${code}`);
    this.unmount(root);
    return code;
  }

  private setprivArgs(c: ContainerRun): string[] {
    return [`--reuid=${c.user.uid}`, `--regid=${c.user.gid}`, c.user.groups.length ? `--groups=${c.user.groups.join(",")}` : "--clear-groups"];
  }

  private unmount(root: string): void {
    try {
      execFileSync("umount", ["-l", root], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }

  // ---------------------------------------------------------------- probes and exec

  private startProbes(pod: Pod, c: ContainerRun): void {
    const kinds = [
      ["startupProbe", "startup"],
      ["readinessProbe", "readiness"],
      ["livenessProbe", "liveness"],
    ] as const;
    if (!c.spec.startupProbe) c.started = true;
    if (!c.spec.readinessProbe) {
      const t = setInterval(() => (c.ready = c.running && c.started), 200);
      c.timers.push(t);
    }
    for (const [field, kind] of kinds) {
      const probe: Obj | undefined = c.spec[field];
      if (!probe) continue;
      const period = (probe.periodSeconds ?? 10) * 1000;
      const tick = async (): Promise<void> => {
        if (!c.running || pod.stopping) return;
        if (kind !== "startup" && !c.started) {
          c.timers.push(setTimeout(() => void tick(), 500));
          return;
        }
        if (kind === "startup" && c.started) return;
        const ok = await this.probeOnce(pod, c, probe);
        if (!c.running || pod.stopping) return;
        if (ok) {
          c.failures[kind] = 0;
          if (kind === "readiness") c.ready = true;
          if (kind === "startup") c.started = true;
        } else {
          c.failures[kind]++;
          const threshold = probe.failureThreshold ?? 3;
          if (kind === "readiness" && c.failures[kind] >= threshold) c.ready = false;
          if ((kind === "liveness" || kind === "startup") && c.failures[kind] >= threshold) {
            this.event(`pod ${pod.key} container ${c.name}: ${kind} probe failed ${c.failures[kind]} times: restarting it`);
            this.killContainer(c, "SIGTERM");
            return;
          }
        }
        c.timers.push(setTimeout(() => void tick(), period));
      };
      c.timers.push(setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000));
    }
  }

  private probeOnce(pod: Pod, c: ContainerRun, probe: Obj): Promise<boolean> {
    const timeout = (probe.timeoutSeconds ?? 1) * 1000;
    const portOf = (p: number | string): number => (typeof p === "number" ? p : (c.spec.ports ?? []).find((x: Obj) => x.name === p)?.containerPort ?? NaN);
    if (probe.httpGet) {
      const g = probe.httpGet;
      const client = (g.scheme ?? "HTTP") === "HTTPS" ? https : http;
      return new Promise((resolve) => {
        const headers: Record<string, string> = { "User-Agent": "kube-probe/1.32" };
        for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
        const req = client.get({ host: g.host ?? pod.ip, port: portOf(g.port), path: g.path ?? "/", headers, timeout, rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
      });
    }
    if (probe.tcpSocket) {
      return new Promise((resolve) => {
        const s = net.connect({ host: probe.tcpSocket.host ?? pod.ip, port: portOf(probe.tcpSocket.port), timeout });
        s.on("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.on("timeout", () => {
          s.destroy();
          resolve(false);
        });
        s.on("error", () => resolve(false));
      });
    }
    if (probe.exec) return this.execIn(pod, c, probe.exec.command, undefined, timeout).then((r) => r.code === 0);
    return Promise.resolve(false);
  }

  /** kubectl exec: a process inside the running container's namespaces, root and user. */
  execIn(pod: Pod, c: ContainerRun, command: string[], stdin: Buffer | undefined, timeout: number): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
    if (!c.running || c.sandboxPid === undefined) return Promise.resolve({ code: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`error: container ${c.name} of pod ${pod.name} is not running\n`) });
    const args = ["-t", String(c.sandboxPid), "-m", "-u", "-i", "-n", "-p", "-r", "-w"];
    if (c.user.uid !== 0 || c.user.gid !== 0) args.push("setpriv", ...this.setprivArgs(c), "--");
    args.push(...command);
    return this.runToEnd(spawn("nsenter", args, { env: c.env, stdio: ["pipe", "pipe", "pipe"] }), stdin, timeout);
  }

  /** A started process fed its input and waited for, its output collected; killed after `timeout` ms if one is given. */
  private runToEnd(proc: ChildProcess, input: Buffer | undefined, timeout?: number): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
    return new Promise((resolve) => {
      this.procs.add(proc);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      proc.stdout!.on("data", (d: Buffer) => out.push(d));
      proc.stderr!.on("data", (d: Buffer) => err.push(d));
      proc.stdin!.on("error", () => undefined);
      proc.stdin!.end(input ?? Buffer.alloc(0));
      proc.on("error", (e) => err.push(Buffer.from(e.message)));
      const timer = timeout === undefined ? undefined : setTimeout(() => proc.kill("SIGKILL"), timeout);
      proc.on("close", (code) => {
        clearTimeout(timer);
        this.procs.delete(proc);
        resolve({ code: code ?? 137, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
      });
    });
  }

  // ---------------------------------------------------------------- stopping

  private killContainer(c: ContainerRun, signal: NodeJS.Signals): void {
    const pid = c.proc?.pid;
    if (pid === undefined || !c.running) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // exited meanwhile
    }
  }

  private async stopPod(pod: Pod): Promise<void> {
    if (pod.stopping) return;
    pod.stopping = true;
    this.event(`pod ${pod.key}: stopping`);
    const grace = Math.min(pod.spec.terminationGracePeriodSeconds ?? 30, 10) * 1000;
    const running = pod.containers.filter((c) => c.running);
    for (const c of running) this.killContainer(c, "SIGTERM");
    const all = Promise.all(running.map((c) => c.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(grace).then(() => true)]);
    if (timedOut) {
      for (const c of pod.containers.filter((x) => x.running)) this.killContainer(c, "SIGKILL");
      await all;
    }
    try {
      this.ip("netns", "del", pod.netns);
    } catch {
      // never made
    }
    if (this.pods.get(pod.key) === pod) this.pods.delete(pod.key);
    pod.resolveDone();
    this.writeHosts();
  }

  /** Stops every pod and proxy; returns the pids of processes that would not stop (none, normally). */
  async shutdown(): Promise<number[]> {
    this.stopped = true;
    for (const j of this.jobs.values()) clearTimeout(j.timer);
    await Promise.all([...this.pods.values()].map((p) => this.stopPod(p)));
    for (const s of this.services.values()) for (const server of s.servers) server.close();
    // Then the node's own processes (the database), each given time to stop cleanly.
    const hosts = [...this.hostProcs].filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of hosts) {
      try {
        process.kill(-p.pid!, "SIGTERM");
      } catch {
        // gone
      }
    }
    await Promise.race([Promise.all(hosts.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(0) : p.on("exit", r))))), sleep(30000)]);
    const left = this.livePids();
    for (const pid of left) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    return left;
  }

  /** Starts a process on the node itself (the external database), stopped with the node. */
  startHostProcess(argv: string[], logName: string, env: Record<string, string> = {}): number {
    const log = fs.openSync(path.join(this.logDir, logName), "a");
    const proc = spawn(argv[0], argv.slice(1), { stdio: ["ignore", log, log], detached: true, env: { ...process.env, ...env } });
    fs.closeSync(log);
    this.procs.add(proc);
    this.hostProcs.add(proc);
    proc.on("exit", (code) => {
      this.procs.delete(proc);
      this.event(`host process ${argv[0]} exited with ${code}`);
    });
    this.event(`host process ${proc.pid}: ${argv.join(" ")}`);
    return proc.pid!;
  }

  /** Runs a command on the node to its end (set-up of the external database, checks). */
  runOnHost(argv: string[], input?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
    return this.runToEnd(spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] }), input);
  }
}

const os_signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** The node's process: `node node.js STATE_DIR SOCKET`, run by startNode inside unshare. */
async function main(): Promise<void> {
  const [stateDir, socket] = process.argv.slice(2);
  const node = new Node(stateDir, process.env.E2E_IMAGES_DIR || IMAGES_DIR);
  node.setUp();
  let closing: Promise<number[]> | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Obj) : {};
      const reply = (value: unknown): void => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(value));
      };
      const run = async (): Promise<unknown> => {
        switch (req.url) {
          case "/kubectl":
            return node.kubectl(body.argv, body.stdin ? Buffer.from(body.stdin, "base64") : undefined);
          case "/host/start":
            return { pid: node.startHostProcess(body.argv, body.log, body.env) };
          case "/host/run": {
            const r = await node.runOnHost(body.argv, body.stdin ? Buffer.from(body.stdin, "base64") : undefined);
            return { code: r.code, stdout: r.stdout.toString("base64"), stderr: r.stderr.toString() };
          }
          case "/pids":
            return { pids: node.livePids() };
          case "/shutdown":
            closing ??= node.shutdown();
            return { left: await closing };
          default:
            throw new Error(`no such request ${req.url}`);
        }
      };
      run().then(reply, (e: Error) => {
        res.statusCode = 500;
        reply({ error: e.stack });
      });
      if (req.url === "/shutdown") res.on("finish", () => setTimeout(() => process.exit(0), 50));
    });
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  const stop = (): void => {
    closing ??= node.shutdown();
    void closing.then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The test holds our standard input open: if it dies, however it dies, everything stops.
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  server.listen(socket, () => {
    fs.chmodSync(socket, 0o600);
    process.stdout.write("ready\n");
  });
}

if (require.main === module) void main();
