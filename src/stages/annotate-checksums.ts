// A pod reads its config files and secrets when it starts; Kubernetes does not restart it when
// they change. So every pod template carries a checksum of exactly the Secrets and ConfigMaps it
// mounts or reads: a change to one of them changes the template of its readers, and only theirs,
// and they roll out (a Job gets a new name, see name-jobs.ts). The checksum is an HMAC keyed with a
// secret that is not in out/ and does not change with the config (see checksumKey in pipeline.ts),
// so out/ gives no way to test a guess of a secret against it.
import { createHmac } from "node:crypto";
import type { KubeObject, RenderedObject } from "../types";

export const CHECKSUM_ANNOTATION = "gen-manifests/config-checksum";

type PodSpec = {
  volumes?: { secret?: { secretName?: string }; configMap?: { name?: string }; projected?: { sources?: { secret?: { name?: string }; configMap?: { name?: string } }[] } }[];
  containers?: Container[];
  initContainers?: Container[];
};
type Container = {
  env?: { valueFrom?: { secretKeyRef?: { name?: string }; configMapKeyRef?: { name?: string } } }[];
  envFrom?: { secretRef?: { name?: string }; configMapRef?: { name?: string } }[];
};

/** `Secret/name` and `ConfigMap/name` of everything a pod spec mounts or reads. */
export function configReadBy(spec: PodSpec): string[] {
  const refs = new Set<string>();
  const add = (kind: string, name: string | undefined): void => void (name && refs.add(`${kind}/${name}`));
  for (const v of spec.volumes ?? []) {
    add("Secret", v.secret?.secretName);
    add("ConfigMap", v.configMap?.name);
    for (const s of v.projected?.sources ?? []) {
      add("Secret", s.secret?.name);
      add("ConfigMap", s.configMap?.name);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c.env ?? []) {
      add("Secret", e.valueFrom?.secretKeyRef?.name);
      add("ConfigMap", e.valueFrom?.configMapKeyRef?.name);
    }
    for (const e of c.envFrom ?? []) {
      add("Secret", e.secretRef?.name);
      add("ConfigMap", e.configMapRef?.name);
    }
  }
  return [...refs].sort();
}

const stable = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(stable).join(",")}]` : v && typeof v === "object" ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(",")}}` : JSON.stringify(v ?? null);

/** The objects, each pod template annotated with the checksum of the rendered config it reads. */
export function annotateConfigChecksums(objects: RenderedObject[], key: string): RenderedObject[] {
  const config = new Map<string, KubeObject>();
  for (const { object: o } of objects) {
    if ((o.kind === "Secret" || o.kind === "ConfigMap") && o.apiVersion === "v1") config.set(`${o.metadata.namespace ?? ""}/${o.kind}/${o.metadata.name}`, o);
  }
  return objects.map((r) => {
    const template = (r.object.spec as { template?: { metadata?: { annotations?: Record<string, string> }; spec?: PodSpec } } | undefined)?.template;
    if (!template?.spec) return r;
    const ns = r.object.metadata.namespace ?? "";
    const read = configReadBy(template.spec).flatMap((ref) => {
      const o = config.get(`${ns}/${ref}`);
      return o ? [[ref, o.data ?? null, o.stringData ?? null, o.binaryData ?? null]] : [];
    });
    if (read.length === 0) return r;
    const checksum = createHmac("sha256", key).update(stable(read)).digest("hex");
    const spec = r.object.spec as Record<string, unknown>;
    const metadata = { ...(template.metadata ?? {}), annotations: { ...(template.metadata?.annotations ?? {}), [CHECKSUM_ANNOTATION]: checksum } };
    return { ...r, object: { ...r.object, spec: { ...spec, template: { ...template, metadata } } } };
  });
}
