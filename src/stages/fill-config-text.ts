// Puts values into config text (a YAML scalar that holds a config file), each by the dialect of
// the `{{#config}}` block that printed it. Text that is a config file (under a key named like one,
// or with an INI section header) and has a value in it must come from such a block: the escaping
// cannot be forgotten.
import { isDialectName, type Piece, writeConfigText } from "../config-dialects";
import type { Problem } from "../errors";
import type { ParamValues } from "../types";
import { type Emitted, TOKEN_PATTERN } from "../value-tokens";

/** Where each parameter came from (Params.origin), to name a refused value's place. */
export interface ParamPlaces {
  values: ParamValues;
  origin: Record<string, string>;
}

/** A key that names a config file (`keystone.conf`, `definitions.json`), or text with an INI section header. */
const CONFIG_KEY = /\.(conf|ini|cfg|cnf|json|ya?ml|config)$/;
const SECTION_HEADER = /^[ \t]*\[[^\]\n]+\][ \t]*$/m;

/**
 * The scalar `s` (at `path` in its object) with its values written in, or undefined when it is no
 * config text (no value printed inside a `{{#config}}` block, and it does not look like a config
 * file): the caller puts values in as plain text then.
 */
export function fillConfigText(s: string, path: (string | number)[], emitted: Emitted[], problems: Problem[], params?: ParamPlaces): string | undefined {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of s.matchAll(TOKEN_PATTERN)) {
    if (m.index! > last) pieces.push(s.slice(last, m.index));
    pieces.push({ token: Number(m[1]) });
    last = m.index! + m[0].length;
  }
  if (last < s.length) pieces.push(s.slice(last));
  const tokens = pieces.filter((p): p is { token: number } => typeof p !== "string");
  const dialects = new Set(tokens.map((t) => emitted[t.token].dialect));
  const looksLikeConfig = CONFIG_KEY.test(String(path[path.length - 1])) || SECTION_HEADER.test(s);
  if (!looksLikeConfig && !tokens.some((t) => emitted[t.token].dialect)) return undefined;
  const unmarked = tokens.filter((t) => !emitted[t.token].dialect);
  if (unmarked.length || dialects.size > 1) {
    for (const t of unmarked.length ? unmarked : tokens) {
      problems.push(siteProblem(emitted[t.token], `${emitted[t.token].site.expression} is written into a config file's text; write that text inside {{#config "<format>"}} ... {{/config}}, one format per text, so that each value is escaped by the format's rules`));
    }
    return "";
  }
  const dialect = [...dialects][0]!;
  if (!isDialectName(dialect)) return "";
  const { text, faults } = writeConfigText(dialect, pieces, (i) => emitted[i].value);
  for (const f of faults) {
    const e = emitted[f.token];
    problems.push(siteProblem(e, `the value of ${e.site.expression}${paramPlace(e, params)} ${f.reason} (the value is not shown)`));
  }
  return text;
}

/** ` (params/prod.json: /keystone_admin_password)`: where the value came from, when it is a parameter's. */
function paramPlace(e: Emitted, params: ParamPlaces | undefined): string {
  if (!params) return "";
  const names = e.secrets.length ? e.secrets : [/^[A-Za-z_][\w-]*/.exec(e.site.expression)?.[0] ?? ""].filter((n) => Object.hasOwn(params.values, n));
  const places = names.map((n) => `${params.origin[n] ?? "parameters"}: /${n}`);
  return places.length ? ` (${places.join(", ")})` : "";
}

function siteProblem(e: Emitted, message: string): Problem {
  return { file: e.site.template, line: e.site.line, column: e.site.column, message };
}
