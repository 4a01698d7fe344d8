// Generates src/feature-gates.json: for every feature gate that src/kube-fields.json says a field
// requires, its stages by Kubernetes version (alpha, beta, GA; on or off by default), read from
// Kubernetes' own generated list of them, test/compatibility_lifecycle/reference/
// versioned_feature_list.yaml in the kubernetes/kubernetes repository:
//   node dist/src/tools/generate-feature-gates.js PATH/TO/versioned_feature_list.yaml [COMMIT]
// A gate the list no longer has graduated and was removed long ago: it is always on ([]).
// Build-time only; a test checks that every gate a field names has its entry.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import KUBE_FIELDS from "../kube-fields.json";

/** One stage of a gate, from a Kubernetes version on. */
export interface GateStage {
  version: string;
  default: boolean;
  preRelease: string;
}
export interface FeatureGateTable {
  source: string;
  /** Gate → its stages, oldest first; [] for a gate removed after it graduated (always on). */
  gates: Record<string, GateStage[]>;
}

export const GATES_FILE = path.join(__dirname, "..", "..", "..", "src", "feature-gates.json");

/** The gates the field table names, each once, sorted. */
export function gatesNamed(gates: Record<string, Record<string, string>> = KUBE_FIELDS.gates): string[] {
  return [...new Set(Object.values(gates).flatMap((fields) => Object.values(fields)))].sort();
}

export function generateFeatureGates(listText: string, source: string): FeatureGateTable {
  const list = yaml.load(listText) as { name: string; versionedSpecs: (GateStage & { lockToDefault?: boolean })[] }[];
  const byName = new Map(list.map((g) => [g.name, g.versionedSpecs]));
  const gates: FeatureGateTable["gates"] = {};
  for (const name of gatesNamed()) {
    gates[name] = (byName.get(name) ?? []).map((s) => ({ version: s.version, default: s.default, preRelease: s.preRelease }));
  }
  return { source, gates };
}

if (require.main === module) {
  const [file, commit] = process.argv.slice(2);
  if (!file) throw new Error("usage: generate-feature-gates.js PATH/TO/versioned_feature_list.yaml [COMMIT]");
  const source = `kubernetes/kubernetes test/compatibility_lifecycle/reference/versioned_feature_list.yaml${commit ? ` at ${commit}` : ""}`;
  fs.writeFileSync(GATES_FILE, `${JSON.stringify(generateFeatureGates(fs.readFileSync(file, "utf8"), source), null, 1)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), GATES_FILE)}`);
}
