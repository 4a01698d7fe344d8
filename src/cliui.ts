// yargs' ESM build, which the bundle uses, lays out help with cliui's ESM entry, whose wrap breaks
// lines in the middle of words. This is that entry with wrap-ansi (what cliui's CommonJS entry
// uses), loaded on the first wrap: only a run that prints help pays for it.
// @ts-expect-error cliui's internals carry no types; the bundler resolves the path.
import { cliui } from "../node_modules/cliui/build/lib/index.js";
// @ts-expect-error as above
import { stripAnsi } from "../node_modules/cliui/build/lib/string-utils.js";

type Wrap = (text: string, width: number, options?: { hard?: boolean }) => string;

export default function ui(options: unknown): unknown {
  return cliui(options, {
    stringWidth: (s: string) => [...s].length,
    stripAnsi,
    wrap: (text: string, width: number, opts?: { hard?: boolean }) => (require("wrap-ansi") as Wrap)(text, width, opts),
  });
}
