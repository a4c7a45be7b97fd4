import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A loader hook that records every module file a Node process loads: pass `--import <register>`
 * to the process, then read `loaded()`. For tests of what a process carries.
 */
export function moduleRecorder(dir: string): { register: string; loaded: () => string[] } {
  const record = join(dir, "loaded.txt");
  const hooks = join(dir, "hooks.mjs");
  writeFileSync(record, "");
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(record)}, url + "\\n");
  return next(url, context);
}`,
  );
  const register = join(dir, "register.mjs");
  writeFileSync(
    register,
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  return { register, loaded: () => readFileSync(record, "utf8").split("\n").filter(Boolean) };
}
