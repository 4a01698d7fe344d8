// With --argocd, every object carries the sync wave of its phase, so an Argo CD sync follows the
// order apply.sh follows. Jobs become Sync hooks: Argo CD waits for them in their wave, as
// apply.sh does, and does not report them out of sync once their TTL has deleted them.
import type { RenderedObject } from "../types";
import { phaseOf } from "./order-manifests";

export function annotateForArgoCD(objects: RenderedObject[]): RenderedObject[] {
  return objects.map((m) => {
    const annotations: Record<string, string> = { ...(m.object.metadata.annotations ?? {}), "argocd.argoproj.io/sync-wave": String(Number(phaseOf(m).rank)) };
    if (m.object.kind === "Job") {
      annotations["argocd.argoproj.io/hook"] = "Sync";
      annotations["argocd.argoproj.io/hook-delete-policy"] = "BeforeHookCreation";
    }
    return { ...m, object: { ...m.object, metadata: { ...m.object.metadata, annotations } } };
  });
}
