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
}

export const TABLE_FILE = path.join(__dirname, "..", "..", "..", "src", "kube-fields.json");

export function generateKubeFields(modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"))): KubeFieldTable {
  const files = BUNDLED_KIND_NAMES.map((k) => path.join(modelsRoot, `${k}.d.ts`));
  const program = ts.createProgram(files, { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const types: KubeFieldTable["types"] = {};
  const kinds: KubeFieldTable["kinds"] = {};

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
  return { source: `kubernetes-models ${version}`, kinds, types: sorted };
}

export function tableText(table: KubeFieldTable): string {
  return `${JSON.stringify(table, null, 1)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(TABLE_FILE, tableText(generateKubeFields()));
  console.log(`wrote ${path.relative(process.cwd(), TABLE_FILE)}`);
}
