import { describe, expect, it } from "vitest";
import { jsonPatch, mergePatch, PatchError, stripDirectives } from "./patch.js";

describe("mergePatch (RFC 7386)", () => {
  it.each([
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])("%j + %j", (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it("drops strategic-merge directives", () => {
    expect(stripDirectives({ $setElementOrder: [], spec: { $retainKeys: ["a"], a: 1 } })).toEqual({
      spec: { a: 1 },
    });
  });
});

describe("jsonPatch (RFC 6902)", () => {
  const doc = { metadata: { labels: { a: "1" } }, spec: { items: [1, 2] } };
  it.each([
    [
      [{ op: "add", path: "/metadata/labels/b", value: "2" }],
      { metadata: { labels: { a: "1", b: "2" } }, spec: { items: [1, 2] } },
    ],
    [[{ op: "remove", path: "/metadata/labels/a" }], { metadata: { labels: {} }, spec: { items: [1, 2] } }],
    [
      [{ op: "replace", path: "/spec/items/0", value: 9 }],
      { metadata: { labels: { a: "1" } }, spec: { items: [9, 2] } },
    ],
    [
      [{ op: "add", path: "/spec/items/-", value: 3 }],
      { metadata: { labels: { a: "1" } }, spec: { items: [1, 2, 3] } },
    ],
    [
      [{ op: "move", from: "/metadata/labels/a", path: "/metadata/labels/c" }],
      { metadata: { labels: { c: "1" } }, spec: { items: [1, 2] } },
    ],
    [[{ op: "test", path: "/metadata/labels/a", value: "1" }], doc],
  ])("%j", (ops, expected) => {
    expect(jsonPatch(doc, ops)).toEqual(expected);
  });

  it.each([
    [[{ op: "test", path: "/metadata/labels/a", value: "2" }]],
    [[{ op: "remove", path: "/nope/x" }]],
    [[{ op: "frobnicate", path: "/a" }]],
    [{ op: "add" }],
  ])("fails cleanly on %j", (ops) => {
    expect(() => jsonPatch(doc, ops)).toThrow(PatchError);
  });
});
