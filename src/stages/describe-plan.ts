// The rollout apply.sh performs, phase by phase, for people (text) and programs (JSON).
import { describeObject } from "../object-name";
import type { PlacedManifest, Plan } from "../types";

export interface PlanJson {
  phases: {
    phase: string;
    rank: string;
    description: string;
    apply: { kind: string; namespace?: string; name: string; file: string }[];
    waitFor: { kind: string; namespace?: string; name: string; condition: "complete" }[];
  }[];
  rollouts: { kind: string; namespace?: string; name: string }[];
}

const ref = (m: PlacedManifest) => ({ kind: m.object.kind, ...(m.object.metadata.namespace ? { namespace: m.object.metadata.namespace } : {}), name: m.object.metadata.name });

export function planJson(plan: Plan, fileOf: (m: PlacedManifest) => string): PlanJson {
  return {
    phases: plan.steps.map((s) => ({
      phase: s.phase.name,
      rank: s.phase.rank,
      description: s.phase.description,
      apply: s.apply.map((m) => ({ ...ref(m), file: fileOf(m) })),
      waitFor: s.waitFor.map((m) => ({ ...ref(m), condition: "complete" as const })),
    })),
    rollouts: plan.rollouts.map(ref),
  };
}

export function planText(plan: Plan, fileOf: (m: PlacedManifest) => string): string {
  const name = (m: PlacedManifest) => describeObject(m.object);
  const width = Math.max(0, ...plan.steps.flatMap((s) => s.apply.map((m) => name(m).length)));
  const lines: string[] = [];
  plan.steps.forEach((s, i) => {
    lines.push(`${i + 1}. phase ${s.phase.rank} ${s.phase.name}: ${s.phase.description}`);
    for (const m of s.apply) lines.push(`     apply  ${name(m).padEnd(width)}  ${fileOf(m)}`);
    for (const m of s.waitFor) lines.push(`     wait   ${name(m)} to complete`);
  });
  if (plan.rollouts.length) {
    lines.push(`${plan.steps.length + 1}. rollouts: wait for every workload`);
    for (const m of plan.rollouts) lines.push(`     wait   ${name(m)} to roll out`);
  }
  return lines.join("\n");
}
