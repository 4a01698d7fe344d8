// Finds and reads the templates: every file under the templates folder except dotfiles.
// `_*.hbs` files are partials. Reads the disk: this is one end of the pipeline.
import fg from "fast-glob";
import fs from "node:fs";
import path from "node:path";
import { GenError, Problem } from "../errors";
import type { TemplateFile } from "../types";

export function discoverTemplates(dir: string, displayDir: string): TemplateFile[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new GenError("discover-templates", [{ file: displayDir, message: "templates folder does not exist" }]);
  }
  if (!stat.isDirectory()) {
    throw new GenError("discover-templates", [{ file: displayDir, message: "expected a folder of templates, found a file" }]);
  }
  const names = fg.sync("**/*", { cwd: dir, dot: false, onlyFiles: true, followSymbolicLinks: false }).sort();
  const unsafe = [...names.filter((name) => UNWRITABLE_IN_NAME.test(name)), ...unsafeFolders(dir)];
  if (unsafe.length) {
    throw new GenError(
      "discover-templates",
      unsafe.map((name) => ({
        file: path.join(displayDir, escapeUnwritable(name)),
        message: "a template's name may not hold a line break, a control or invisible character, or bytes that are not UTF-8 (shown as \\u{...}): it is written in each object's # Source: comment; rename the file",
      })),
    );
  }
  const unreadable: Problem[] = [];
  const files = names.flatMap((name) => {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), "utf8");
    } catch (e) {
      unreadable.push({ file: path.join(displayDir, name), message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? "unknown error"})` });
      return [];
    }
    return [{ name, path: path.join(displayDir, name), source: `${path.basename(path.resolve(dir))}/${name}`, text, isPartial: path.basename(name).startsWith("_") }];
  });
  if (unreadable.length) throw new GenError("discover-templates", unreadable);
  if (!files.some((f) => !f.isPartial)) {
    throw new GenError("discover-templates", [{ file: displayDir, message: "holds no templates; expected files such as keystone.yaml.hbs" }]);
  }
  return files;
}

/**
 * What a name cannot hold, since it is written into each manifest's `# Source:` comment and into
 * messages: line breaks (\n, \r, NEL, U+2028, U+2029) would end the comment and inject fields;
 * other control and format characters (bidirectional overrides, zero-width) hide what is written;
 * U+FFFD stands for bytes that are not UTF-8; lone surrogates cannot be written as UTF-8.
 */
const UNWRITABLE_IN_NAME = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\uFFFD]/u;

/** The name with each such character written as \u{XXXX}, so that a message shows it without being broken by it. */
function escapeUnwritable(name: string): string {
  return name.replace(new RegExp(UNWRITABLE_IN_NAME.source, "gu"), (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`);
}

/**
 * Folders whose names hold such a character: fast-glob does not enter them (its patterns do not
 * match a name with U+2028 in it), so their templates would be left out without a word.
 */
function unsafeFolders(dir: string): string[] {
  const folders = ["", ...fg.sync("**", { cwd: dir, dot: false, onlyDirectories: true, followSymbolicLinks: false })];
  return folders.flatMap((folder) =>
    fs
      .readdirSync(path.join(dir, folder), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith(".") && UNWRITABLE_IN_NAME.test(entry.name))
      .map((entry) => path.posix.join(folder, entry.name)),
  );
}
