// Parameters computed from others, as the seed's heat-replace.py did. Declared here and
// nowhere else; an operator who supplies one explicitly keeps their own value.
import type { ParamValues } from "../types";

export interface Derivation {
  name: string;
  from: string;
  /** What `from` must look like for the derivation to work, for the message when it does not. */
  expects: string;
  derive(source: string): string | undefined;
}

/** The URL-decoded, non-empty segments of a URL's path. */
function pathSegments(url: string): string[] {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return [];
  }
  return path
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

export const DERIVATIONS: readonly Derivation[] = [
  // https://storage.example.com/v1/TENANT/CONTAINER → CONTAINER
  { name: "swift_container", from: "swift_siteurl", expects: "a URL whose path ends in /TENANT/CONTAINER", derive: (url) => pathSegments(url).at(-1) },
  // … → TENANT
  { name: "swift_tenant_name", from: "swift_siteurl", expects: "a URL whose path ends in /TENANT/CONTAINER", derive: (url) => pathSegments(url).at(-2) },
];

export function deriveParams(
  values: ParamValues,
  origin: Record<string, string>,
): { values: ParamValues; origin: Record<string, string> } {
  const out = { ...values };
  const outOrigin = { ...origin };
  for (const d of DERIVATIONS) {
    if (out[d.name] !== undefined) continue;
    const source = out[d.from];
    if (typeof source !== "string") continue;
    const derived = d.derive(source);
    if (derived === undefined) continue;
    out[d.name] = derived;
    outOrigin[d.name] = `${origin[d.from] ?? "parameters"} (derived from ${d.from})`;
  }
  return { values: out, origin: outOrigin };
}
