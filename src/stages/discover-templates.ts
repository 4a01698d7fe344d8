// Finds and reads the templates: every file under the templates folder except dotfiles.
// `_*.hbs` files are partials. Reads the disk: this is one end of the pipeline.
import fg from "fast-glob";
import fs from "node:fs";
import path from "node:path";
import { GenError } from "../errors";
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
  const files = names.map((name) => ({
    name,
    path: path.join(displayDir, name),
    source: `${path.basename(path.resolve(dir))}/${name}`,
    text: fs.readFileSync(path.join(dir, name), "utf8"),
    isPartial: path.basename(name).startsWith("_"),
  }));
  if (!files.some((f) => !f.isPartial)) {
    throw new GenError("discover-templates", [{ file: displayDir, message: "holds no templates; expected files such as keystone.yaml.hbs" }]);
  }
  return files;
}
