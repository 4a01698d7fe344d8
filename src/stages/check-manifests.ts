// Checks the rendered objects on every run, not only in tests: each against the Kubernetes
// OpenAPI schema of its apiVersion/kind (offline, with the validators kubernetes-models ships),
// and across objects, the mistakes a cluster would only show at run time. Validators only read.
import fs from "node:fs";
import path from "node:path";
import { BUNDLED_KINDS } from "../bundled-kinds";
import { closestName } from "../closest-name";
import FEATURE_GATES from "../feature-gates.json";
import KUBE_FIELDS from "../kube-fields.json";
import type { FieldType } from "../tools/generate-kube-fields";
import type { GateStage } from "../tools/generate-feature-gates";
import { GenError } from "../errors";
import { describeObject } from "../object-name";
import type { KubeObject, RenderedObject } from "../types";
import type { ObjectProblem } from "./locate-problems";
import { formatPath } from "./render";

type Validator = (object: KubeObject) => { instancePath: string; message?: string; params?: Record<string, unknown> }[];

// Resolved only for kinds the bundle does not carry.
let modelsRootCache: string | undefined;
const modelsRoot = (): string => (modelsRootCache ??= path.dirname(require.resolve("kubernetes-models/package.json")));
/** A kind's validator; "custom" for resources kubernetes-models does not know (CRDs). */
type KindCheck = Validator | "custom" | "unknown-kind";
const validators = new Map<string, KindCheck>();

/** The schema validator of an apiVersion/kind, loaded only when that kind is rendered. */
function validatorFor(apiVersion: string, kind: string): KindCheck {
  const key = `${apiVersion}/${kind}`;
  let check = validators.get(key);
  if (check === undefined) {
    check = loadValidator(apiVersion, kind);
    validators.set(key, check);
  }
  return check;
}

function asValidator(Model: new (data: unknown) => { validate(): void }): Validator {
  // The model's own validate, on the object as it is: `new Model(object)` would first copy it
  // whole, to drop undefined values, which a parsed object does not have.
  const validate = Model.prototype.validate;
  return (object) => {
    try {
      validate.call(object);
      return [];
    } catch (e) {
      const errors = (e as { errors?: ReturnType<Validator> }).errors;
      if (!errors) throw e;
      return errors;
    }
  };
}

function loadValidator(apiVersion: string, kind: string): KindCheck {
  const bundled = BUNDLED_KINDS[`${apiVersion}/${kind}`];
  if (bundled) return asValidator(bundled());
  if (!/^[A-Za-z0-9.-]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) return "custom";
  const dir = path.join(modelsRoot(), ...apiVersion.split("/"));
  const file = path.join(dir, `${kind}.js`);
  // A group/version kubernetes-models knows but a kind it lacks is a typo; anything else a custom resource.
  const groupDir = apiVersion.includes("/") ? path.join(modelsRoot(), apiVersion.split("/")[0]) : dir;
  if (!fs.existsSync(file)) return fs.existsSync(groupDir) ? "unknown-kind" : "custom";
  return asValidator((require(file) as Record<string, new (data: unknown) => { validate(): void }>)[kind]);
}

type Path = (string | number)[];

/** A problem with one object; with a field path, the message starts with it and it can be located. */
function objectProblem(r: RenderedObject, message: string, path?: Path, key = false): ObjectProblem {
  const where = path ? `${formatPath(path) || "(the object)"}: ` : "";
  return { file: r.template, message: `${describeObject(r.object)}: ${where}${message}`, place: { object: r, path: path ?? [], key, detail: message } };
}

/** The Kubernetes version the rendered objects are for, unless told otherwise: kubectl 1.32's. */
export const DEFAULT_KUBE_VERSION = "1.32";

export interface CheckOptions {
  /** `1.32`: fields behind a feature gate that is off by default in this version are errors. */
  kubeVersion?: string;
}

/** Throws every problem at once; each names its object's field (see locate-problems for its line). */
export function checkManifests(objects: RenderedObject[], options: CheckOptions = {}): void {
  const problems: ObjectProblem[] = [];
  const version = options.kubeVersion ?? DEFAULT_KUBE_VERSION;
  checkDuplicates(objects, problems);
  for (const r of objects) {
    checkSchema(r, problems);
    checkFields(r, problems, version);
  }
  if (problems.length === 0) checkReferences(objects, problems);
  if (problems.length) throw new GenError("check-manifests", problems);
}

function checkDuplicates(objects: RenderedObject[], problems: ObjectProblem[]): void {
  const seen = new Map<string, RenderedObject>();
  for (const r of objects) {
    const group = r.object.apiVersion.includes("/") ? r.object.apiVersion.split("/")[0] : "";
    const key = `${group}|${r.object.kind}|${r.object.metadata.namespace ?? ""}|${r.object.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      problems.push(objectProblem(r, `defined twice: in ${first.template} (document ${first.document}) and in ${r.template} (document ${r.document})`, ["metadata", "name"]));
    } else seen.set(key, r);
  }
}

function checkSchema(r: RenderedObject, problems: ObjectProblem[]): void {
  const v = validatorFor(r.object.apiVersion, r.object.kind);
  if (v === "custom") return;
  if (v === "unknown-kind") {
    problems.push({ ...objectProblem(r, `${r.object.apiVersion} has no kind ${r.object.kind}`), place: { object: r, path: ["kind"], detail: "no kind" } });
    return;
  }
  for (const e of v(r.object)) {
    const segments = e.instancePath.split("/").slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
    let message = e.message ?? "is invalid";
    if (e.params && "missingProperty" in e.params) {
      segments.push(String(e.params.missingProperty));
      message = "is required";
    }
    problems.push(objectProblem(r, message, segments));
  }
}

const FIELD_TYPES: Record<string, Record<string, FieldType>> = KUBE_FIELDS.types;
const KIND_TYPES: Record<string, string> = KUBE_FIELDS.kinds;
const FIELD_GATES: Record<string, Record<string, string>> = KUBE_FIELDS.gates;
const GATE_STAGES: Record<string, GateStage[]> = FEATURE_GATES.gates;

const minor = (version: string): number => Number(version.split(".")[1]);

/**
 * Why a gated field cannot be used in a Kubernetes version, or undefined when its gate is on by
 * default there. An API server whose gate is off drops the field without a word: the object is
 * applied without it.
 */
export function gateOff(gate: string, version: string): string | undefined {
  const stages = GATE_STAGES[gate];
  if (!stages || stages.length === 0) return undefined; // graduated and removed long ago
  const current = stages.filter((s) => minor(s.version) <= minor(version)).pop();
  if (!current) return `which Kubernetes ${version} does not have (it came in ${stages[0].version}, ${stages[0].preRelease.toLowerCase()})`;
  if (!current.default) return `off by default (${current.preRelease.toLowerCase()}) in Kubernetes ${version}`;
  return undefined;
}

/**
 * Every field must be one the kind has: the API server's strict field validation (kubectl's
 * default) rejects unknown ones at apply time, and kubernetes-models' validators let them through.
 * And none may need a feature gate that is off by default in the target version (src/feature-gates.json).
 * Checked for the bundled kinds, whose field names src/kube-fields.json lists.
 */
function checkFields(r: RenderedObject, problems: ObjectProblem[], version: string): void {
  const root = KIND_TYPES[`${r.object.apiVersion}/${r.object.kind}`];
  if (!root) return;
  // `at` is one stack, pushed and popped: every object of every manifest passes here.
  const at: (string | number)[] = [];
  const walk = (value: unknown, type: string): void => {
    // Anything but a mapping is the schema check's to report.
    if (!value || typeof value !== "object" || Array.isArray(value)) return;
    const known = FIELD_TYPES[type];
    const gated = FIELD_GATES[type];
    const node = value as Record<string, unknown>;
    for (const field of Object.keys(node)) {
      if (!Object.hasOwn(known, field)) {
        const near = closestName(field, Object.keys(known));
        problems.push(objectProblem(r, `unknown field${near ? `; did you mean ${near}?` : ""}`, [...at, field], true));
        continue;
      }
      const gate = gated?.[field];
      const off = gate && gateOff(gate, version);
      if (off) {
        problems.push(objectProblem(r, `needs the ${gate} feature gate, ${off}: an API server without the gate drops the field silently. Is it indented where it belongs? (--kube-version sets the target version)`, [...at, field], true));
      }
      const t = known[field];
      if (t === null || t === "{}") continue;
      const v = node[field];
      at.push(field);
      if (!t.startsWith("[]")) walk(v, t);
      else if (Array.isArray(v)) {
        const itemType = t.slice(2);
        for (let i = 0; i < v.length; i++) {
          at.push(i);
          walk(v[i], itemType);
          at.pop();
        }
      }
      at.pop();
    }
  };
  walk(r.object, root);
}

interface PodTemplate {
  owner: RenderedObject;
  /** Path of the pod spec inside the owner. */
  at: Path;
  labels: Record<string, string>;
  spec: PodSpec;
}

interface Container {
  name: string;
  ports?: { name?: string; containerPort?: number }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  envFrom?: { secretRef?: { name: string; optional?: boolean } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
type Probe = { httpGet?: { port?: number | string }; tcpSocket?: { port?: number | string }; grpc?: { port?: number } };
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: { name: string; secret?: { secretName?: string; optional?: boolean; items?: { key: string }[] } }[];
}

/** The pod templates of workloads and jobs, and bare pods. */
function podTemplates(objects: RenderedObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const r of objects) {
    const o = r.object as KubeObject & { spec?: Record<string, unknown> };
    if (o.kind === "Pod") out.push({ owner: r, at: ["spec"], labels: o.metadata.labels ?? {}, spec: (o.spec ?? {}) as PodSpec });
    const tpl = (o.kind === "CronJob" ? (o.spec?.jobTemplate as { spec?: Record<string, unknown> })?.spec?.template : o.spec?.template) as
      | { metadata?: { labels?: Record<string, string> }; spec?: PodSpec }
      | undefined;
    if (tpl && typeof tpl === "object" && tpl.spec) {
      out.push({ owner: r, at: o.kind === "CronJob" ? ["spec", "jobTemplate", "spec", "template", "spec"] : ["spec", "template", "spec"], labels: tpl.metadata?.labels ?? {}, spec: tpl.spec });
    }
  }
  return out;
}

const ns = (r: RenderedObject): string => r.object.metadata.namespace ?? "";

/** Pod templates by namespace and one label, so each Service looks only at its candidates. */
function indexPods(pods: PodTemplate[]): Map<string, PodTemplate[]> {
  const index = new Map<string, PodTemplate[]>();
  for (const pod of pods) {
    for (const [k, v] of Object.entries(pod.labels)) {
      const key = `${ns(pod.owner)}\0${k}\0${v}`;
      const list = index.get(key);
      if (list) list.push(pod);
      else index.set(key, [pod]);
    }
  }
  return index;
}

function checkReferences(objects: RenderedObject[], problems: ObjectProblem[]): void {
  const pods = podTemplates(objects);
  const podIndex = indexPods(pods);
  const secrets = new Map<string, RenderedObject>();
  for (const r of objects) if (r.object.kind === "Secret") secrets.set(`${ns(r)}/${r.object.metadata.name}`, r);

  for (const pod of pods) {
    const all = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])];
    const seen = new Set<string>();
    all.forEach((c, i) => {
      const at = i < (pod.spec.containers ?? []).length ? [...pod.at, "containers", i] : [...pod.at, "initContainers", i - (pod.spec.containers ?? []).length];
      if (seen.has(c.name)) problems.push(objectProblem(pod.owner, `two containers are named "${c.name}"`, [...at, "name"]));
      seen.add(c.name);
    });
    (pod.spec.containers ?? []).forEach((c, i) => checkContainer(pod, c, [...pod.at, "containers", i], secrets, problems));
    (pod.spec.initContainers ?? []).forEach((c, i) => checkContainer(pod, c, [...pod.at, "initContainers", i], secrets, problems));
    (pod.spec.volumes ?? []).forEach((v, i) => {
      if (!v.secret?.secretName || v.secret.optional) return;
      const secret = secrets.get(`${ns(pod.owner)}/${v.secret.secretName}`);
      const where = [...pod.at, "volumes", i, "secret"];
      if (!secret) problems.push(objectProblem(pod.owner, `mounts Secret "${v.secret.secretName}", which no template renders`, [...where, "secretName"]));
      else {
        (v.secret.items ?? []).forEach((item, k) => {
          if (!secretHasKey(secret, item.key)) problems.push(objectProblem(pod.owner, `Secret "${v.secret!.secretName}" has no key "${item.key}"`, [...where, "items", k, "key"]));
        });
      }
    });
  }

  for (const r of objects) {
    if (r.object.kind === "Service") checkService(r, podIndex, problems);
    if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(r.object.kind)) checkSelector(r, problems);
  }
}

function secretHasKey(secret: RenderedObject, key: string): boolean {
  const o = secret.object as { data?: Record<string, unknown>; stringData?: Record<string, unknown> };
  return (o.data !== undefined && key in o.data) || (o.stringData !== undefined && key in o.stringData);
}

function checkContainer(pod: PodTemplate, c: Container, where: Path, secrets: Map<string, RenderedObject>, problems: ObjectProblem[]): void {
  const portNames = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
  for (const probeName of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
    const probe = c[probeName];
    const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
    if (typeof port === "string" && !portNames.has(port)) {
      const at = [...where, probeName, probe?.httpGet?.port !== undefined ? "httpGet" : "tcpSocket", "port"];
      problems.push(objectProblem(pod.owner, `names port "${port}", which container "${c.name}" does not declare${portNames.size ? ` (it has ${[...portNames].join(", ")})` : " (it declares no named ports)"}`, at));
    }
  }
  (c.env ?? []).forEach((e, i) => {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref || ref.optional) return;
    const secret = secrets.get(`${ns(pod.owner)}/${ref.name}`);
    const at = [...where, "env", i, "valueFrom", "secretKeyRef"];
    if (!secret) problems.push(objectProblem(pod.owner, `Secret "${ref.name}" is not rendered by any template`, at));
    else if (!secretHasKey(secret, ref.key)) problems.push(objectProblem(pod.owner, `Secret "${ref.name}" has no key "${ref.key}"`, at));
  });
  (c.envFrom ?? []).forEach((e, i) => {
    const ref = e.secretRef;
    if (ref && !ref.optional && !secrets.has(`${ns(pod.owner)}/${ref.name}`)) {
      problems.push(objectProblem(pod.owner, `Secret "${ref.name}" is not rendered by any template`, [...where, "envFrom", i, "secretRef"]));
    }
  });
}

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function checkService(svc: RenderedObject, podIndex: Map<string, PodTemplate[]>, problems: ObjectProblem[]): void {
  const spec = (svc.object as { spec?: { selector?: Record<string, string>; ports?: { port: number; targetPort?: number | string; name?: string }[] } }).spec ?? {};
  const selector = spec.selector;
  if (!selector || Object.keys(selector).length === 0) return; // a Service without selector is wired by hand
  const [k, v] = Object.entries(selector)[0];
  const selected = (podIndex.get(`${ns(svc)}\0${k}\0${v}`) ?? []).filter((p) => matches(selector, p.labels));
  if (selected.length === 0) {
    problems.push(objectProblem(svc, `${JSON.stringify(selector)} matches no pod template of any rendered workload`, ["spec", "selector"]));
    return;
  }
  (spec.ports ?? []).forEach((port, i) => {
    if (typeof port.targetPort !== "string") return;
    for (const pod of selected) {
      const declared = (pod.spec.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort));
      if (!declared) {
        problems.push(objectProblem(svc, `names port "${port.targetPort}", which no container of ${describeObject(pod.owner.object)} declares`, ["spec", "ports", i, "targetPort"]));
      }
    }
  });
}

function checkSelector(r: RenderedObject, problems: ObjectProblem[]): void {
  const spec = (r.object as { spec?: { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } } }).spec;
  const selector = spec?.selector?.matchLabels;
  if (!selector || !spec?.template) return;
  if (!matches(selector, spec.template.metadata?.labels ?? {})) {
    problems.push(objectProblem(r, `${JSON.stringify(selector)} does not match the labels of spec.template`, ["spec", "selector", "matchLabels"]));
  }
}
