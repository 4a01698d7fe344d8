// What regenerating would change: each file added, removed or changed, the object it holds, and a
// unified diff of each changed file. Secret values are masked on both sides before diffing, so a
// diff says that a secret changed, never what it was or is. Pure: the old files are passed in.
import { createTwoFilesPatch } from "diff";
import { describeObject } from "../object-name";
import type { FileChange, KubeObject, OutputTree } from "../types";
import { loadKubeDocument, serializeManifest } from "../kube-yaml";

export interface OutputChange extends FileChange {
  /** `Kind namespace/name`, when the file holds an object. */
  object?: string;
  /** Unified diff, for changed files. */
  patch?: string;
}

function parseObject(text: string | undefined): Record<string, any> | undefined {
  if (text === undefined) return undefined;
  try {
    const o = loadKubeDocument(text) as Record<string, any> | null;
    return o && typeof o === "object" && typeof o.kind === "string" && o.metadata ? o : undefined;
  } catch {
    return undefined;
  }
}

/** A Secret with each value replaced by a mask that tells only whether it changed. */
function maskSecret(o: Record<string, any>, other: Record<string, any> | undefined, side: "old" | "new"): string {
  const masked = structuredClone(o);
  for (const field of ["data", "stringData"]) {
    for (const key of Object.keys(masked[field] ?? {})) {
      masked[field][key] = other?.[field]?.[key] === o[field][key] ? "(secret)" : `(secret, ${side} value)`;
    }
  }
  return serializeManifest(masked);
}

export function diffOutput(trees: OutputTree[], existing: Map<string, Map<string, string>>): OutputChange[] {
  const changes: OutputChange[] = [];
  for (const tree of trees) {
    const old = existing.get(tree.dir) ?? new Map<string, string>();
    const names = [...new Set([...tree.files.keys(), ...old.keys()])].sort();
    for (const name of names) {
      const before = old.get(name);
      const after = tree.files.get(name)?.content;
      if (before === after) continue;
      const file = `${tree.dir}/${name}`;
      const oldObject = parseObject(before);
      const newObject = parseObject(after);
      const object = newObject ?? oldObject;
      const change: OutputChange = { file, change: before === undefined ? "added" : after === undefined ? "removed" : "changed" };
      if (object) change.object = describeObject(object as KubeObject);
      if (change.change === "changed") {
        const secret = tree.dirMode === 0o700 || oldObject?.kind === "Secret" || newObject?.kind === "Secret";
        const a = secret ? (oldObject ? maskSecret(oldObject, newObject, "old") : "(secret)\n") : before!;
        const b = secret ? (newObject ? maskSecret(newObject, oldObject, "new") : "(secret)\n") : after!;
        change.patch = createTwoFilesPatch(`a/${file}`, `b/${file}`, a, b, undefined, undefined, { context: 3 }).replace(/^=+\n/m, "");
      }
      changes.push(change);
    }
  }
  return changes;
}
