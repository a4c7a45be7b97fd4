import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pages = [
  "README.md",
  "infra/README.md",
  "patches/README.md",
  "tests/vectors/peer/README.md",
  ...readdirSync(join(root, "docs")).map((file) => join("docs", file)),
].filter((file) => file.endsWith(".md"));

/** The documentation is read from a clone: every link it makes to a file must land inside the repository. */
describe("the documentation's links", () => {
  it.each(pages)("%s links only to files in the repository that exist", (page) => {
    const text = readFileSync(join(root, page), "utf8");
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.startsWith("#")) continue;
      const file = resolve(root, dirname(page), target!.split("#")[0]!);
      if (relative(root, file).startsWith("..") || !existsSync(file)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });

  it("keeps the README short: the pitch, the two commands, a picture, a map and links", () => {
    expect(readFileSync(join(root, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(200);
  });
});
