// What a template may use, checked on its syntax tree before anything is rendered: only declared
// parameters (a partial may also use names its callers pass), only the known helpers and blocks,
// a secret only whole, and a phase directive that names a phase. Every problem at its line and column.
import { closestName } from "./closest-name";
import { DIALECT_NAMES, isDialectName } from "./config-dialects";
import type { Problem } from "./errors";
import { type Phase, phaseByName, PHASES } from "./phases";
import { describeSyntaxError } from "./template-syntax";
import { BLOCK_HELPERS, compiler, HELPERS, helperNamed, partialName } from "./template-runtime";
import { TOKEN_PREFIX } from "./value-tokens";
import type { TemplateFile } from "./types";

type Node = hbs.AST.Node;
type Program = hbs.AST.Program;
type Expression = hbs.AST.Expression;
type PathExpression = hbs.AST.PathExpression;

const SCOPE_CHANGING = new Set(["each", "with"]);

const DIRECTIVE = /^\s*gen-manifests:\s*phase\s*=\s*(\S+)\s*$/;

/** What a context or a block parameter is known to be: the parameters, a secret, or anything else. */
type Shape = "params" | "secret" | "unknown";

interface Scope {
  /** The contexts `../` steps back through, the current one last (#with and #each add one). */
  contexts: Shape[];
  blockParams: Map<string, Shape>;
}

/** Names every JavaScript object inherits (`constructor`, `__proto__`, `toString`, ...): never a parameter or a field. */
export const INHERITED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

export interface PartialCall {
  partial: string;
  hashKeys: Set<string>;
  file: TemplateFile;
  line: number;
  column: number;
}

export interface FileAnalysis {
  file: TemplateFile;
  /** Undeclared names used at root scope (allowed in partials if every caller passes them). */
  freeVars: Map<string, { line: number; column: number }>;
  calls: PartialCall[];
  phaseOverride?: Phase;
}

export function parseTemplate(file: TemplateFile, problems: Problem[]): Program | undefined {
  if (file.text.includes(TOKEN_PREFIX)) {
    const before = file.text.slice(0, file.text.indexOf(TOKEN_PREFIX));
    problems.push({ file: file.path, line: before.split("\n").length, column: before.length - before.lastIndexOf("\n"), message: `contains "${TOKEN_PREFIX}", which the compiler reserves` });
    return undefined;
  }
  try {
    return compiler().parse(file.text);
  } catch (e) {
    problems.push(...describeParseError(file, e as Error & { lineNumber?: number; column?: number }));
    return undefined;
  }
}

/**
 * Handlebars' parse errors: either `msg - line:col`, or jison's `Parse error on line N:` with a
 * caret; put into words, at the tag to fix, by template-syntax.
 */
export function describeParseError(file: TemplateFile, e: Error & { lineNumber?: number; column?: number }): Problem[] {
  if (e.lineNumber !== undefined) {
    return describeSyntaxError(file.path, file.text, { line: e.lineNumber, column: (e.column ?? 0) + 1 }, undefined, e.message.replace(/ - \d+:\d+$/, ""));
  }
  const m = /Parse error on line (\d+):\n(.*)\n(-*)\^\n(.*)/.exec(e.message);
  if (!m) return describeSyntaxError(file.path, file.text, {}, undefined, e.message.split("\n")[0]);
  const line = Number(m[1]);
  // jison shows up to 20 characters before the fault, newlines removed: find them on the line.
  const truncated = m[2].startsWith("...");
  const shown = m[2].slice(0, m[3].length).replace(/^\.\.\./, "");
  const lineText = file.text.split("\n")[line - 1] ?? "";
  let column: number | undefined;
  if (truncated && lineText.includes(shown)) column = lineText.indexOf(shown) + shown.length + 1;
  else {
    for (let k = Math.min(shown.length, lineText.length); k >= 0 && column === undefined; k--) if (shown.endsWith(lineText.slice(0, k))) column = k + 1;
  }
  return describeSyntaxError(file.path, file.text, { line, column }, m[4]);
}

function at(file: TemplateFile, node: Node, message: string): Problem {
  return { file: file.path, line: node.loc.start.line, column: node.loc.start.column + 1, message };
}

export function analyseTemplate(file: TemplateFile, ast: Program, declared: Set<string>, secrets: Set<string>, partials: Set<string>, problems: Problem[]): FileAnalysis {
  const analysis: FileAnalysis = { file, freeVars: new Map(), calls: [] };
  const undeclared = (node: Node, name: string, viaRoot: boolean): void => {
    if (file.isPartial && !viaRoot) {
      if (!analysis.freeVars.has(name)) analysis.freeVars.set(name, { line: node.loc.start.line, column: node.loc.start.column + 1 });
      return;
    }
    const hint = closestName(name, [...declared]);
    problems.push(at(file, node, `"${name}" is not a declared parameter${hint ? ` (did you mean "${hint}"?)` : ""}; declare it in params/schema.json`));
  };

  /**
   * What a path reaches, checked whatever its spelling: the context it starts from (`@root`, `../`,
   * a block parameter, `this` or the current one), then each name after it. A name every object
   * inherits is never a parameter or a field; a secret is one value, with no fields to read.
   */
  const resolve = (path: PathExpression, scope: Scope): Shape => {
    const inherited = path.parts.find((p) => INHERITED_NAMES.has(p));
    if (inherited !== undefined) {
      problems.push(at(file, path, `"${inherited}"${path.original === inherited ? "" : ` (in ${path.original})`} is a name every JavaScript object inherits, never a parameter or a field`));
      return "unknown";
    }
    let shape: Shape;
    let rest: string[];
    let viaRoot = false;
    if (path.data) {
      if (path.parts[0] !== "root") return "unknown"; // @index, @key, @first, @last: never a secret
      [shape, rest, viaRoot] = ["params", path.parts.slice(1), true];
    } else if (path.depth > 0) {
      shape = scope.contexts[scope.contexts.length - 1 - path.depth] ?? "unknown";
      rest = path.parts;
    } else if (!/^\.|^this\b/.test(path.original) && path.parts.length > 0 && scope.blockParams.has(path.parts[0])) {
      [shape, rest] = [scope.blockParams.get(path.parts[0])!, path.parts.slice(1)];
    } else {
      [shape, rest] = [scope.contexts[scope.contexts.length - 1], path.parts];
    }
    if (shape === "params" && rest.length > 0) {
      if (!declared.has(rest[0])) {
        undeclared(path, rest[0], viaRoot);
        return "unknown";
      }
      if (!secrets.has(rest[0])) return "unknown";
      [shape, rest] = ["secret", rest.slice(1)];
    }
    if (shape === "secret" && rest.length > 0) {
      problems.push(at(file, path, `${path.original} reads "${rest[0]}" of a secret parameter, which has no fields: a secret is used whole, and only in a Secret's data or stringData`));
      return "unknown";
    }
    return rest.length === 0 ? shape : "unknown";
  };

  const checkHelperReads = (node: Node, name: string): void => {
    for (const r of HELPERS[name].reads) {
      if (!declared.has(r)) problems.push(at(file, node, `helper "${name}" reads "${r}", which params/schema.json does not declare`));
    }
  };

  const expression = (expr: Expression, scope: Scope): Shape => {
    if (expr.type === "PathExpression") return resolve(expr as PathExpression, scope);
    if (expr.type === "SubExpression") call(expr as hbs.AST.SubExpression, scope, false);
    return "unknown";
  };

  const call = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression, scope: Scope, isMustache: boolean): void => {
    const path = node.path as Expression;
    const hasArgs = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    if (path.type !== "PathExpression") {
      if (hasArgs) problems.push(at(file, node, "only a helper name can take arguments"));
      return;
    }
    const name = (path as PathExpression).original;
    if (helperNamed(name)) checkHelperReads(node, name);
    else if ((hasArgs || !isMustache) && !(path as PathExpression).parts.some((p) => INHERITED_NAMES.has(p))) {
      const known = Object.keys(HELPERS);
      const hint = closestName(name, known);
      problems.push(at(file, node, `unknown helper "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; known helpers: ${known.join(", ")} and the blocks #${[...BLOCK_HELPERS].join(", #")}`));
      return;
    } else resolve(path as PathExpression, scope);
    node.params.forEach((p) => expression(p, scope));
    node.hash?.pairs.forEach((p) => expression(p.value, scope));
  };

  const program = (prog: Program | undefined, scope: Scope): void => {
    if (!prog) return;
    for (const stmt of prog.body) statement(stmt, scope);
  };

  const statement = (stmt: hbs.AST.Statement, scope: Scope): void => {
    switch (stmt.type) {
      case "ContentStatement":
        return;
      case "CommentStatement": {
        const m = DIRECTIVE.exec((stmt as hbs.AST.CommentStatement).value);
        if (!m) return;
        const phase = phaseByName(m[1]);
        if (!phase) problems.push(at(file, stmt, `unknown phase "${m[1]}"; expected one of ${PHASES.map((p) => p.name).join(", ")}`));
        else analysis.phaseOverride = phase;
        return;
      }
      case "MustacheStatement":
        return call(stmt as hbs.AST.MustacheStatement, scope, true);
      case "BlockStatement": {
        const block = stmt as hbs.AST.BlockStatement;
        const name = (block.path as PathExpression).original;
        if (!BLOCK_HELPERS.has(name)) {
          problems.push(at(file, block, `unknown block helper "#${name}"; known: #${[...BLOCK_HELPERS].join(", #")}`));
          return;
        }
        if (block.params.length !== 1) problems.push(at(file, block, `#${name} takes exactly one argument`));
        else if (name === "config") checkConfigBlock(file, block, problems);
        const shapes = block.params.map((p) => expression(p, scope));
        if (name === "each" && shapes[0] === "secret") problems.push(at(file, block, `#each cannot go through a secret parameter: a secret is one value, used whole, and only in a Secret's data or stringData`));
        // Inside #with, the context is what it was given; inside #each, one item of it (any parameter, in @root's).
        const given: Shape = name === "with" ? (shapes[0] ?? "unknown") : "unknown";
        const blockParams = new Map(scope.blockParams);
        (block.program.blockParams ?? []).forEach((p, i) => blockParams.set(p, i === 0 ? given : "unknown"));
        const inner: Scope = { contexts: SCOPE_CHANGING.has(name) ? [...scope.contexts, given] : scope.contexts, blockParams };
        program(block.program, inner);
        program(block.inverse, scope);
        return;
      }
      case "PartialStatement": {
        const partial = stmt as hbs.AST.PartialStatement;
        if (partial.name.type !== "PathExpression") {
          problems.push(at(file, partial, "a partial must be named, not computed"));
          return;
        }
        const name = (partial.name as PathExpression).original;
        if (!partials.has(name)) {
          problems.push(at(file, partial, `no partial named "${name}" (expected a file _${name.split("/").pop()}.hbs)`));
          return;
        }
        partial.params.forEach((p) => expression(p, scope));
        partial.hash?.pairs.forEach((p) => expression(p.value, scope));
        if (partial.params.length === 0 && scope.contexts[scope.contexts.length - 1] === "params") {
          analysis.calls.push({
            partial: name,
            hashKeys: new Set(partial.hash?.pairs.map((p) => p.key) ?? []),
            file,
            line: partial.loc.start.line,
            column: partial.loc.start.column + 1,
          });
        }
        return;
      }
      default:
        problems.push(at(file, stmt, `${stmt.type.replace(/Statement$/, "").toLowerCase()} is not supported in templates`));
    }
  };

  program(ast, { contexts: ["params"], blockParams: new Map() });
  return analysis;
}

/** `{{#config "oslo"}}`: a known format, named as written, not nested, with no `{{else}}`. */
function checkConfigBlock(file: TemplateFile, block: hbs.AST.BlockStatement, problems: Problem[]): void {
  const [arg] = block.params;
  const named = arg.type === "StringLiteral" ? (arg as hbs.AST.StringLiteral).value : undefined;
  if (!isDialectName(named)) problems.push(at(file, block, `#config names the format of the text it writes: one of ${DIALECT_NAMES.map((d) => `"${d}"`).join(", ")}`));
  if (block.inverse) problems.push(at(file, block, "#config takes no {{else}}"));
  const nested = (prog: Program | undefined): boolean =>
    !!prog?.body.some((s) => s.type === "BlockStatement" && ((s as hbs.AST.BlockStatement).path as PathExpression).original === "config" ? true : s.type === "BlockStatement" && (nested((s as hbs.AST.BlockStatement).program) || nested((s as hbs.AST.BlockStatement).inverse)));
  if (nested(block.program)) problems.push(at(file, block, "#config blocks do not nest: one text, one format"));
}

export function checkPartialCalls(analyses: FileAnalysis[], declared: Set<string>, problems: Problem[]): void {
  const byPartial = new Map(analyses.filter((a) => a.file.isPartial).map((a) => [partialName(a.file), a]));
  const memo = new Map<string, Map<string, string>>();
  // name → where it is first used, across nested partials.
  const freeVarsOf = (name: string, stack: string[]): Map<string, string> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const a = byPartial.get(name)!;
    if (stack.includes(name)) {
      problems.push({ file: a.file.path, message: `partial "${name}" includes itself (${[...stack, name].join(" → ")})` });
      return new Map();
    }
    const vars = new Map<string, string>();
    for (const [v, loc] of a.freeVars) vars.set(v, `${a.file.path}:${loc.line}:${loc.column}`);
    for (const c of a.calls) {
      for (const [v, where] of freeVarsOf(c.partial, [...stack, name])) if (!c.hashKeys.has(v) && !vars.has(v)) vars.set(v, where);
    }
    memo.set(name, vars);
    return vars;
  };
  for (const a of analyses) {
    if (a.file.isPartial) continue;
    for (const c of a.calls) {
      for (const [v, where] of freeVarsOf(c.partial, [])) {
        if (c.hashKeys.has(v) || declared.has(v)) continue;
        problems.push({ file: c.file.path, line: c.line, column: c.column, message: `partial "${c.partial}" uses "${v}" (at ${where}), which is neither a declared parameter nor passed to it` });
      }
    }
  }
}
