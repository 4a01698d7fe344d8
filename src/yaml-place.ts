// Where a value stands in YAML (or JSON, which YAML reads too) text, for error messages only: the
// `yaml` library keeps each node's offsets, which js-yaml does not. Loaded on the first error.
import type { Node as YamlNode, Pair } from "yaml";

export type Yaml = typeof import("yaml");
export const yamlLib = (): Yaml => require("yaml") as Yaml;

/**
 * The offset of a field, by its path: a field holding a mapping or list, or a wrong name, at its
 * name; a scalar at its value. The walk stops where the text ends: at a scalar (a value's token,
 * which holds the rest), at an alias, or at the mapping that lacks the field.
 */
export function fieldOffset(root: YamlNode, path: (string | number)[], key = false): number | undefined {
  const { isCollection, isMap, isSeq } = yamlLib();
  let node: YamlNode | null = root;
  let offset = root.range?.[0];
  for (let i = 0; i < path.length; i++) {
    if (isMap(node)) {
      const pair: Pair<YamlNode, YamlNode | null> | undefined = (node.items as Pair<YamlNode, YamlNode | null>[]).find((p) => keyText(p.key) === String(path[i]));
      if (!pair) break;
      const atName = (key && i === path.length - 1) || pair.value === null || isCollection(pair.value);
      offset = (atName ? pair.key.range?.[0] : pair.value?.range?.[0]) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(String(path[i]))) {
      const item: YamlNode | null | undefined = (node.items as (YamlNode | null)[])[Number(path[i])];
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** The mapping's value under `name`, if it has one. */
export function mapValue(node: unknown, name: string): YamlNode | null | undefined {
  const { isMap } = yamlLib();
  if (!isMap(node)) return undefined;
  return (node.items as Pair<YamlNode, YamlNode | null>[]).find((p) => keyText(p.key) === name)?.value;
}

export function keyText(k: unknown): string | undefined {
  const value = (k as { value?: unknown } | null)?.value;
  return value === undefined || value === null ? undefined : String(value);
}
