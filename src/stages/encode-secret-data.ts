// Templates write a Secret's values as `stringData`, which reads as it is meant. The API server
// never stores stringData: it folds it into `data` (base64), so a Secret applied with stringData
// differs from the live one at every apply ("configured", drift under GitOps). This stage writes
// each Secret in the form the server stores: `data` only, stringData winning a key both name (as
// the server does), keys sorted (as the server writes a map).
import type { KubeObject, RenderedObject } from "../types";

/** A Secret of `v1` with its stringData folded into data; any other object as it is. */
export function encodeSecretData(objects: RenderedObject[]): RenderedObject[] {
  return objects.map((r) => {
    const o = r.object as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    if (o.kind !== "Secret" || o.apiVersion !== "v1" || o.stringData === undefined) return r;
    const { stringData, ...rest } = o;
    const merged: Record<string, string> = { ...(o.data ?? {}) };
    for (const [key, value] of Object.entries(stringData ?? {})) merged[key] = Buffer.from(String(value), "utf8").toString("base64");
    const data = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
    // An empty map the server would drop is not written either.
    return { ...r, object: Object.keys(data).length ? ({ ...rest, data } as KubeObject) : (rest as KubeObject) };
  });
}
