// No import cycles in src/: each module can be read (and tested) after the modules it imports.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { REPO } from "./helpers";

const SRC = path.join(REPO, "src");

/** Every module of src/, by path, with the modules of src/ it imports (type-only imports too). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith(".ts")) {
        const text = fs.readFileSync(file, "utf8");
        const specifiers = [...text.matchAll(/(?:\bfrom\s+|\brequire\(|\bimport\()\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
        const targets = specifiers
          .map((s) => path.resolve(path.dirname(file), s))
          .map((p) => [`${p}.ts`, path.join(p, "index.ts")].find((f) => fs.existsSync(f)))
          .filter((f): f is string => f !== undefined);
        graph.set(file, [...new Set(targets)]);
      }
    }
  };
  visit(SRC);
  return graph;
}

/** One cycle of the graph, as the modules around it, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const walk = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = walk(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = walk(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("src/ imports", () => {
  it("form no cycle", () => {
    const graph = importGraph();
    assert.ok(graph.size > 20 && [...graph.values()].some((targets) => targets.length > 0), "the graph was read");
    const cycle = findCycle(graph);
    assert.equal(cycle && cycle.map((f) => path.relative(REPO, f)).join(" → "), undefined);
  });

  it("a cycle is found where there is one (the check the test above relies on)", () => {
    const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
    assert.equal(findCycle(new Map([["a", ["b"]], ["b", []]])), undefined);
  });
});
