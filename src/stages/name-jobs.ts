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

export function nameJobsBySpec(objects: RenderedObject[]): RenderedObject[] {
  return objects.map((r) => {
    if (r.object.kind !== "Job" || r.object.apiVersion !== "batch/v1") return r;
    const base = r.object.metadata.name;
    const name = `${base.slice(0, MAX_NAME - 9).replace(/-+$/, "")}-${specHash(r.object.spec)}`;
    return { ...r, fileStem: base, object: { ...r.object, metadata: { ...r.object.metadata, name } } };
  });
}
