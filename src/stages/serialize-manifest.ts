// Writes one object as YAML that any Kubernetes reader gets back exactly. Kubernetes reads YAML
// 1.1 through Go's yaml.v2, which turns `no`, `on`, `0o17`, `1_000` and more into non-strings, so
// a string is written plain only when it cannot be read as anything else; otherwise quoted.
import { Document, Scalar, visit } from "yaml";

/** Plain only: starts with a letter, `/` or `_`, and holds no YAML indicator that matters. */
const SAFE_PLAIN = /^[A-Za-z_/][A-Za-z0-9_./=+@-]*(:[A-Za-z0-9_./=+@-]+)*$/;
/**
 * Starts with a digit but holds a letter no number, timestamp or sexagesimal can hold (not a-f,
 * o, t, x, z): `200m`, `256Mi`, `00-namespace-x.yaml`.
 */
const DIGIT_LED_WORD = /^[0-9][A-Za-z0-9._-]*$/;
const NOT_IN_NUMBERS = /[g-np-su-wyG-NP-SU-WY]/;
/** Words YAML 1.1 (or Go's reader) turns into booleans, nulls or floats, in any case. */
const RESERVED_WORDS = /^(y|yes|n|no|true|false|on|off|null|nan|inf|infinity)$/i;

export function scalarStyle(s: string): Scalar.Type {
  if (s.includes("\n") && !/[^\S\n ]|[ ]\n|[ ]$/.test(s)) return "BLOCK_LITERAL";
  if (SAFE_PLAIN.test(s) && !RESERVED_WORDS.test(s)) return "PLAIN";
  if (DIGIT_LED_WORD.test(s) && NOT_IN_NUMBERS.test(s)) return "PLAIN";
  return "QUOTE_DOUBLE";
}

export function serializeManifest(object: unknown, source?: string): string {
  const doc = new Document(object, { version: "1.1" });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string") node.type = scalarStyle(node.value);
    },
  });
  const text = doc.toString({ lineWidth: 0 });
  return source ? `# Source: ${source}\n${text}` : text;
}
