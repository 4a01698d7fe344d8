// Generates src/kube-fields.json: the field names of every object type the bundled kinds use, read
// from kubernetes-models' own type declarations with the TypeScript compiler. Its compiled
// validators check types and required fields but let unknown fields through, which the API
// server's strict field validation (kubectl's default) rejects at apply time: a typo in a template
// must fail here instead. Run by `npm run generate`; a test keeps the committed table current.
// Build-time only: it loads the TypeScript compiler, which the CLI never does.
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { BUNDLED_KIND_NAMES } from "../bundled-kinds";

/** A field is a leaf (null), an object type (its name), a map ("{}") or a list of one ("[]Name"). */
export type FieldType = string | null;
export interface KubeFieldTable {
  /** kubernetes-models' version: the table is regenerated with it. */
  source: string;
  /** apiVersion/kind → the object type of the kind. */
  kinds: Record<string, string>;
  types: Record<string, Record<string, FieldType>>;
  /**
   * Type → field → the feature gate the field requires, as its OpenAPI description says ("This
   * is an alpha field and requires enabling the PodLevelResources feature gate").
   */
  gates: Record<string, Record<string, string>>;
}

/** How the descriptions say that setting a field needs a gate; a gate on a value or a behaviour is not one. */
const REQUIRES_GATE = [
  /requires (?:enabling )?(?:the )?([A-Z][A-Za-z0-9]+) feature gate/,
  /gated by the ([A-Z][A-Za-z0-9]+) feature gate/,
  /accepts setting the field when the feature gate ([A-Z][A-Za-z0-9]+) is enabled/,
];

/** The gate a field's description says it requires, if any (the first named). */
export function gateOf(description: string): string | undefined {
  const text = description.replace(/\s+/g, " ");
  let first: { at: number; gate: string } | undefined;
  for (const pattern of REQUIRES_GATE) {
    const m = pattern.exec(text);
    if (m && (!first || m.index < first.at)) first = { at: m.index, gate: m[1] };
  }
  return first?.gate;
}

export const TABLE_FILE = path.join(__dirname, "..", "..", "..", "src", "kube-fields.json");

export function generateKubeFields(modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"))): KubeFieldTable {
  const files = BUNDLED_KIND_NAMES.map((k) => path.join(modelsRoot, `${k}.d.ts`));
  const program = ts.createProgram(files, { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const types: KubeFieldTable["types"] = {};
  const kinds: KubeFieldTable["kinds"] = {};
  const gates: KubeFieldTable["gates"] = {};

  /** The name of an object type, after walking it into the table; null for a leaf. */
  const describe = (type: ts.Type, where: string): FieldType => {
    type = checker.getNonNullableType(type);
    if (checker.isArrayType(type)) {
      const element = describe(checker.getTypeArguments(type as ts.TypeReference)[0], where);
      return element && !element.startsWith("[]") && element !== "{}" ? `[]${element}` : null;
    }
    if (type.getStringIndexType()) return "{}";
    if (!(type.flags & ts.TypeFlags.Object) || type.getProperties().length === 0) return null;
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const declared = symbol?.declarations?.[0]?.getSourceFile().fileName;
    if (!symbol || !declared) throw new Error(`${where}: an object type without a declaration: ${checker.typeToString(type)}`);
    // Unique across API groups: the declaring file, from kubernetes-models or its apimachinery; a
    // type written inline in a field is named after the field.
    const file = declared.slice(declared.lastIndexOf("node_modules/") + "node_modules/".length).replace(/\.d\.ts$/, "");
    const name = symbol.getName() === "__type" ? where : file;
    if (!(name in types)) {
      types[name] = {};
      for (const prop of type.getProperties()) {
        types[name][prop.getName()] = describe(checker.getTypeOfSymbol(prop), `${name}.${prop.getName()}`);
        const gate = gateOf(ts.displayPartsToString(prop.getDocumentationComment(checker)));
        if (gate) (gates[name] ??= {})[prop.getName()] = gate;
      }
    }
    return name;
  };

  for (const [i, kind] of BUNDLED_KIND_NAMES.entries()) {
    const source = program.getSourceFile(files[i]);
    if (!source) throw new Error(`kubernetes-models has no ${kind}.d.ts`);
    const name = `I${path.basename(kind)}`;
    const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
    if (!decl) throw new Error(`${kind}.d.ts declares no ${name}`);
    kinds[kind] = describe(checker.getTypeAtLocation(decl), kind)!;
  }
  const version = (JSON.parse(fs.readFileSync(path.join(modelsRoot, "package.json"), "utf8")) as { version: string }).version;
  const sorted = Object.fromEntries(Object.keys(types).sort().map((t) => [t, Object.fromEntries(Object.keys(types[t]).sort().map((f) => [f, types[t][f]]))]));
  const sortedGates = Object.fromEntries(Object.keys(gates).sort().map((t) => [t, Object.fromEntries(Object.keys(gates[t]).sort().map((f) => [f, gates[t][f]]))]));
  return { source: `kubernetes-models ${version}`, kinds, types: sorted, gates: sortedGates };
}

export function tableText(table: KubeFieldTable): string {
  return `${JSON.stringify(table, null, 1)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(TABLE_FILE, tableText(generateKubeFields()));
  console.log(`wrote ${path.relative(process.cwd(), TABLE_FILE)}`);
}
