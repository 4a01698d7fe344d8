// A Job's pod template cannot be changed in place: a second rollout with a changed job fails with
// `field is immutable`. So, as kustomize does for generated config maps, a Job's name carries a
// short hash of its spec: a changed job is a new object, an unchanged one keeps its name.
import { createHash } from "node:crypto";
import type { RenderedObject } from "../types";

/** Names are DNS labels of at most 63 characters (the job-name label's limit). */
const MAX_NAME = 63;

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

export function specHash(spec: unknown): string {
  return createHash("sha256").update(stableJson(spec ?? null)).digest("hex").slice(0, 8);
}

export interface NameJobsOptions {
  /**
   * Jobs become Argo CD Sync hooks (--argocd): they are not part of the state Argo CD compares,
   * so they may expire after their ttlSecondsAfterFinished. Otherwise they are.
   */
  hooks?: boolean;
}

/**
 * Names each Job by its spec, and keeps it once finished unless it is a hook. Applied by apply.sh,
 * `kubectl apply -k` or Flux, a Job is part of the desired state: one the cluster deleted after its
 * TTL is created again, and run again, at the next apply or reconcile. Kept, it is applied
 * unchanged; a changed Job has a new name, and the old one is pruned (`apply.sh --prune`, Flux's
 * `prune: true`). The TTL is mutable, so it is not part of the name.
 */
export function nameJobsBySpec(objects: RenderedObject[], options: NameJobsOptions = {}): RenderedObject[] {
  return objects.map((r) => {
    if (r.object.kind !== "Job" || r.object.apiVersion !== "batch/v1") return r;
    const { ttlSecondsAfterFinished, ...rest } = (r.object.spec ?? {}) as Record<string, unknown>;
    const spec = options.hooks && ttlSecondsAfterFinished !== undefined ? { ...rest, ttlSecondsAfterFinished } : rest;
    const base = r.object.metadata.name;
    const name = `${base.slice(0, MAX_NAME - 9).replace(/-+$/, "")}-${specHash(rest)}`;
    return { ...r, fileStem: base, object: { ...r.object, spec, metadata: { ...r.object.metadata, name } } };
  });
}
