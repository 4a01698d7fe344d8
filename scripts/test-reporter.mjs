// A compact reporter for node --test (Node 20, 22, 24): a dot per passing test, failures in full
// (where, the error, and what the failing file printed), and a closing line with the counts.
import path from "node:path";
import { inspect } from "node:util";

const COLUMNS = 80;

export default async function* compactReporter(source) {
  const stacks = new Map(); // file → names of the tests it is inside, by nesting
  const output = new Map(); // file → what it printed, shown only if it fails
  const failures = [];
  const counts = {};
  const fileTimes = new Map(); // file → milliseconds its top-level tests took (GEN_MANIFESTS_TEST_TIMES=1)
  let column = 0;
  const mark = (c) => {
    column = (column + 1) % COLUMNS;
    return column === 0 ? `${c}\n` : c;
  };

  for await (const { type, data } of source) {
    // Node 22 and newer name a file relative to the working folder in its output, absolute elsewhere.
    const file = data.file ? path.resolve(data.file) : "";
    if (type === "test:start") {
      const stack = stacks.get(file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(file, stack);
    } else if (type === "test:stdout" || type === "test:stderr") {
      output.set(file, (output.get(file) ?? "") + data.message);
    }
    if ((type === "test:pass" || type === "test:fail") && data.nesting === 0 && file) fileTimes.set(file, (fileTimes.get(file) ?? 0) + (data.details?.duration_ms ?? 0));
    if (type === "test:pass") {
      if (data.details?.type !== "suite") yield mark(data.skip !== undefined || data.todo !== undefined ? "s" : ".");
    } else if (type === "test:fail") {
      const error = data.details?.error;
      // A suite fails because a test in it did: that test is reported.
      if (error?.failureType === "subtestsFailed") continue;
      const where = [...(stacks.get(file) ?? []).slice(0, data.nesting), data.name].filter((n) => path.resolve(n) !== file);
      failures.push({ file, where, error });
      yield mark("F");
    } else if (type === "test:diagnostic" && data.nesting === 0) {
      const [name, value] = data.message.split(" ");
      if (/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms)$/.test(name)) counts[name] = Number(value);
      else yield `\n${data.message}\n`;
    }
  }

  if (column !== 0) yield "\n";
  for (const { file, where, error } of failures) {
    yield `\n✖ ${path.relative(".", file)}${where.length ? `\n  ${where.join(" › ")}` : ""}\n`;
    yield `${indent(inspect(error?.cause ?? error, { depth: 6 }))}\n`;
    const printed = output.get(file);
    if (printed) {
      yield `  what ${path.relative(".", file)} printed:\n${indent(printed.trimEnd())}\n`;
      output.delete(file);
    }
  }
  if (process.env.GEN_MANIFESTS_TEST_TIMES) {
    yield "\nslowest files (their tests' time, in seconds):\n";
    for (const [file, ms] of [...fileTimes].sort((a, b) => b[1] - a[1]).slice(0, 12)) yield `  ${(ms / 1000).toFixed(1).padStart(6)}  ${path.relative(".", file)}\n`;
  }
  const extra = ["cancelled", "todo"].filter((k) => counts[k]).map((k) => `, ${counts[k]} ${k}`).join("");
  const seconds = ((counts.duration_ms ?? 0) / 1000).toFixed(1);
  yield `\ntests: ${counts.pass ?? 0} passed, ${counts.fail ?? 0} failed, ${counts.skipped ?? 0} skipped${extra} (${seconds} s)\n`;
}

const indent = (text) => text.replace(/^/gm, "    ");
