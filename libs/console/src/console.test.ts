import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withQuery } from "../app/api.js";
import { age } from "../app/components.js";
import { href } from "../app/router.js";
import { CONSOLE_DIRECTORY } from "./index.js";

describe("the console's build and helpers", () => {
  it("builds a page that loads only its own bundle, and records the bundle's size", () => {
    const index = readFileSync(join(CONSOLE_DIRECTORY, "index.html"), "utf8");
    for (const asset of index.matchAll(/(?:src|href)="\/ui\/([^"]+)"/g))
      expect(existsSync(join(CONSOLE_DIRECTORY, asset[1]!)), asset[1]).toBe(true);
    expect(index).not.toMatch(/<script>|https?:\/\//);
    const sizes = JSON.parse(readFileSync(join(CONSOLE_DIRECTORY, "bundle.json"), "utf8"));
    expect(sizes["assets/app.js"].gzip).toBeGreaterThan(0);
  });

  it("says how long ago as kubectl does, and never for no time", () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    expect(age(new Date(now - 5 * 60_000).toISOString(), now)).toBe("5m");
    expect(age(null, now)).toBe("never");
  });

  it("leaves empty parameters out of API paths and console links, and encodes the rest", () => {
    expect(withQuery("/api/v1/search", { q: "a b&c", mode: "", limit: 5, continue: undefined })).toBe(
      "/api/v1/search?q=a+b%26c&limit=5",
    );
    expect(href("topology", { cluster: "c/1", name: undefined })).toBe("/ui/topology?cluster=c%2F1");
    expect(href("clusters")).toBe("/ui/clusters");
  });
});
