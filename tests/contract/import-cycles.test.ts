import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every library and service module, with the modules of its own package it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const top of ["libs", "services"])
    for (const pkg of readdirSync(join(root, top))) {
      const src = join(root, top, pkg, "src");
      if (!statSync(join(root, top, pkg)).isDirectory() || !readdirSync(join(root, top, pkg)).includes("src"))
        continue;
      for (const file of sources(src)) {
        const imports = [...readFileSync(file, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)\.js"/g)].map((m) =>
          resolve(dirname(file), `${m[1]}.ts`),
        );
        graph.set(file, imports);
      }
    }
  return graph;
}

/** Modules that import each other, even for types only, are one module written as two. */
describe("the code's structure", () => {
  it("has no import circles inside a package", () => {
    const graph = importGraph();
    const circles = new Set<string>();
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "open")
          circles.add([...path.slice(path.indexOf(next)), next].map((f) => relative(root, f)).join(" → "));
        else if (!state.has(next)) visit(next, [...path, next]);
      }
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect([...circles]).toEqual([]);
  });
});
