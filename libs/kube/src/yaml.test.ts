import { describe, expect, it } from "vitest";
import {
  OFF_LOOP_BYTES,
  readYaml,
  readYamlDocuments,
  readYamlDocumentsOffLoop,
  readYamlOffLoop,
  YamlLimitError,
} from "./yaml.js";

const nestedComplexKeys = (depth: number) => `${"{? ".repeat(depth)}a${" : b}".repeat(depth)}`;
const billionLaughs = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ..."bcdefghi".split("").map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`),
].join("\n");

/** Runs a read and says which limit refused it, or that it was read. */
function verdict(text: string): string {
  try {
    readYamlDocuments(text);
    return "read";
  } catch (error) {
    if (error instanceof YamlLimitError) return error.limit;
    throw error;
  }
}

describe("the bounded YAML reader", () => {
  it.each([
    ["nested complex keys, depth 360 (froze the API for 7 s)", nestedComplexKeys(360), "maxDepth"],
    ["a complex key within the depth limit", nestedComplexKeys(3), "complexKeys"],
    ["40 KB of '['", "[".repeat(40_000), "maxDepth"],
    [
      "deep block nesting",
      Array.from({ length: 100 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"),
      "maxDepth",
    ],
    ["a billion laughs", billionLaughs, "maxAliases"],
    ["20,000 aliases", `a: &a x\nlist: [${Array(20_000).fill("*a").join(",")}]`, "maxAliases"],
    [
      "2,000 anchors, a quarter of a second of parsing",
      Array.from({ length: 2_000 }, (_, i) => `k${i}: &k${i} v`).join("\n"),
      "maxAnchors",
    ],
    ["more than 5 MiB", `a: "${"x".repeat(5 * 1024 * 1024)}"`, "maxBytes"],
    [
      "an ordinary manifest",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\ndata: { k: v }",
      "read",
    ],
    ["a few aliases", "base: &b { a: 1 }\nuse: *b\nagain: *b", "read"],
  ])("%s: %s", (_, text, expected) => {
    expect(verdict(text)).toBe(expected);
  });

  it("reads every document and reports a broken one without stopping", () => {
    const documents = readYamlDocuments("a: 1\n---\nb: [\n---\nc: 3\n");
    expect(documents[0]).toEqual({ value: { a: 1 } });
    expect(documents[1]!.error).toMatch(/flow sequence|Missing/i);
    expect(documents[2]).toEqual({ value: { c: 3 } });
  });

  it("reads one document, and names a syntax error", () => {
    expect(readYaml("k: [1, 2]")).toEqual({ k: [1, 2] });
    expect(() => readYaml("k: [1, 2")).toThrow(/not valid YAML/);
    expect(() => readYaml("a: 1\n---\nb: 2")).toThrow(/found several/);
  });
});

describe("reading YAML off the event loop", () => {
  const big = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  k: ${"v".repeat(OFF_LOOP_BYTES * 4)}`;

  it("reads a large text on a worker thread, as the reader on the loop would", async () => {
    expect(await readYamlDocumentsOffLoop(big)).toEqual(readYamlDocuments(big));
    expect(await readYamlOffLoop("a: 1")).toEqual({ a: 1 });
  });

  it("keeps a large text's limits and says which one it broke", async () => {
    const deep = "[".repeat(OFF_LOOP_BYTES + 1_000);
    const refused = await readYamlDocumentsOffLoop(deep).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(YamlLimitError);
    expect((refused as YamlLimitError).limit).toBe("maxDepth");
    const tooLarge = await readYamlDocumentsOffLoop(big, { maxBytes: OFF_LOOP_BYTES }).catch(
      (e: unknown) => e,
    );
    expect((tooLarge as YamlLimitError).limit).toBe("maxBytes");
  });
});
