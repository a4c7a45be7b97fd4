import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SetupError } from "./infra.js";

/**
 * The manifest files -f names: the file itself, or a directory's .yaml, .yml and .json files in
 * name order (and its subdirectories' too, with recursive, as kubectl's -R does).
 */
export function manifestFiles(path: string, recursive = false): string[] {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new SetupError(`-f ${path}: no such file or directory`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = join(path, entry.name);
      if (entry.isDirectory()) return recursive ? manifestFiles(full, true) : [];
      return /\.(ya?ml|json)$/.test(entry.name) ? [full] : [];
    });
}
