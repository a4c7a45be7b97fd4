import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const read = (file: string) => JSON.parse(readFileSync(new URL(file, root), "utf8"));

describe("the Node version the README promises", () => {
  it("is one every installed package supports, so npm install warns of no engine", () => {
    const promised = semver.minVersion(read("package.json").engines.node)!.version;
    const lock = read("package-lock.json") as {
      packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== "" && !entry.optional)
      .flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range && !semver.satisfies(promised, range) ? [`${path} needs node ${range}`] : [];
      });
    expect(refusing).toEqual([]);
  });
});
