// How an object is named to people: `Kind namespace/name`, or `Kind name` when cluster-wide.
import type { KubeObject } from "./types";

export function describeObject(o: Pick<KubeObject, "kind" | "metadata">): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}
