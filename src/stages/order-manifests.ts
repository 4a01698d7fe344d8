// Gives each object its phase and its file name, and lays out the rollout plan. File names come
// from the object alone (phase, kind, name), so adding or removing a template never renames the
// files of another, and `kubectl apply -f` (file-name order) follows the phases.
import { GenError, Problem } from "../errors";
import { ONE_SHOT_KINDS, Phase, phaseOfKind, PHASES, ROLLOUT_KINDS } from "../phases";
import type { Plan, PlacedManifest, RenderedObject } from "../types";

export function fileNameFor(phaseRank: string, kind: string, name: string): string {
  const safe = (s: string): string => s.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
  return `${phaseRank}-${safe(kind)}-${safe(name)}.yaml`;
}

/** A template's phase directive wins over the kind's phase. */
export function phaseOf(r: RenderedObject): Phase {
  return r.phaseOverride ?? phaseOfKind(r.object.kind);
}

export function orderManifests(objects: RenderedObject[]): { manifests: PlacedManifest[]; plan: Plan } {
  const problems: Problem[] = [];
  const byFile = new Map<string, PlacedManifest>();
  for (const r of objects) {
    const phase = phaseOf(r);
    const fileName = fileNameFor(phase.rank, r.object.kind, r.fileStem ?? r.object.metadata.name);
    const placed: PlacedManifest = { ...r, phase, fileName, isSecret: r.object.kind === "Secret" };
    const clash = byFile.get(fileName);
    if (clash) {
      problems.push({
        file: r.template,
        message: `${r.object.kind} ${r.object.metadata.name} would be written to ${fileName}, as is the object of the same kind and name from ${clash.template}; give one of them another name`,
      });
      continue;
    }
    byFile.set(fileName, placed);
  }
  if (problems.length) throw new GenError("order-manifests", problems);

  const manifests = [...byFile.values()].sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  const steps = PHASES.map((phase) => {
    const apply = manifests.filter((m) => m.phase === phase);
    return { phase, apply, waitFor: apply.filter((m) => ONE_SHOT_KINDS.has(m.object.kind)) };
  }).filter((s) => s.apply.length > 0);
  const rollouts = manifests.filter((m) => ROLLOUT_KINDS.has(m.object.kind));
  return { manifests, plan: { steps, rollouts } };
}
