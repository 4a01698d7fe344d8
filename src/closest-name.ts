// "Did you mean": the known name nearest a mistyped one, by edit distance, if it is near enough
// to be the likely intent (about a third of the name's letters, at least two).
import { distance } from "fastest-levenshtein";

export function closestName(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of names) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
