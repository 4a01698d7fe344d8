// The one error type of the compiler. A stage that finds problems collects all of them and
// throws once; the CLI is the only place that prints them.

export type Stage =
  | "usage"
  | "load-params"
  | "validate-params"
  | "discover-templates"
  | "compile-templates"
  | "render"
  | "check-manifests"
  | "order-manifests"
  | "write-output";

/** Where a problem is: a file, then a line and column or a JSON pointer inside it. */
export interface Problem {
  file?: string;
  line?: number;
  column?: number;
  pointer?: string;
  message: string;
}

export class GenError extends Error {
  readonly stage: Stage;
  readonly problems: Problem[];
  /** 1: the inputs are wrong; 2: the command line is wrong. */
  readonly exitCode: 1 | 2;

  constructor(stage: Stage, problems: Problem[], exitCode: 1 | 2 = 1) {
    // The same problem found twice (a template rendered in a loop, a schema error from two
    // branches) is listed once.
    // Sorted by file, then line and column, as a reader goes through them (a stable sort:
    // problems without a line keep their order).
    const unique = [...new Map(problems.map((p) => [formatProblem(p), p])).values()].sort(byPlace);
    super(unique.map(formatProblem).join("\n"));
    this.name = "GenError";
    this.stage = stage;
    this.problems = unique;
    this.exitCode = exitCode;
  }
}

/**
 * Runs a stage; if it fails, its problems go through `place` first: work that only a failure
 * needs, such as finding each problem's line, is done only then.
 */
export function placingProblems<T>(run: () => T, place: (problems: Problem[]) => Problem[]): T {
  try {
    return run();
  } catch (e) {
    throw e instanceof GenError ? new GenError(e.stage, place(e.problems), e.exitCode) : e;
  }
}

/** File by file; in a file, by line and column, then the problems with no line. */
function byPlace(a: Problem, b: Problem): number {
  const fa = a.file ?? "";
  const fb = b.file ?? "";
  if (fa !== fb) return fa < fb ? -1 : 1;
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0) || 0;
}

/** `file:line:col: message`, `file: /pointer: message` or just `message`. */
export function formatProblem(p: Problem): string {
  let where = p.file ?? "";
  if (p.line !== undefined) {
    where += `:${p.line}`;
    if (p.column !== undefined) where += `:${p.column}`;
  }
  if (p.pointer !== undefined) where += where ? `: ${p.pointer || "/"}` : p.pointer || "/";
  return where ? `${where}: ${p.message}` : p.message;
}

/** Escapes a JSON pointer segment (RFC 6901). */
export function pointerSegment(s: string | number): string {
  return String(s).replace(/~/g, "~0").replace(/\//g, "~1");
}
