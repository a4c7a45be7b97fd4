import { describe, expect, it } from "vitest";
import { applyJsonPatch, JsonPatchError } from "./json-patch.js";

describe("applyJsonPatch (RFC 6902)", () => {
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
    expect(applyJsonPatch(doc, ops)).toEqual(expected);
  });

  it.each([
    [[{ op: "test", path: "/metadata/labels/a", value: "2" }]],
    [[{ op: "remove", path: "/nope/x" }]],
    [[{ op: "frobnicate", path: "/a" }]],
    [{ op: "add" }],
  ])("fails cleanly on %j", (ops) => {
    expect(() => applyJsonPatch(doc, ops)).toThrow(JsonPatchError);
  });

  // The edges where Atoll's two copies used to differ, each now one answer.
  it.each([
    ["replacing the whole document", [{ op: "replace", path: "", value: { a: 1 } }], { a: 1 }],
    [
      "copying",
      [{ op: "copy", from: "/spec/items/0", path: "/spec/first" }],
      { ...doc, spec: { items: [1, 2], first: 1 } },
    ],
    [
      "a test that ignores key order",
      [{ op: "test", path: "/metadata", value: { labels: { a: "1" } } }],
      doc,
    ],
  ])("%s", (_, ops, expected) => {
    expect(applyJsonPatch(doc, ops)).toEqual(expected);
  });

  it.each([
    ["removing the whole document", [{ op: "remove", path: "" }], /whole document/],
    ["an index past the end", [{ op: "replace", path: "/spec/items/2", value: 0 }], /out of range/],
    ["a negative or padded index", [{ op: "add", path: "/spec/items/01", value: 0 }], /out of range/],
    [
      "replacing what is not there",
      [{ op: "replace", path: "/metadata/name", value: "x" }],
      /does not exist/,
    ],
    ["a path without its leading slash", [{ op: "add", path: "spec", value: 0 }], /JSON pointer/],
    ["moving a value into itself", [{ op: "move", from: "/spec", path: "/spec/inner" }], /into itself/],
    ["a move without from", [{ op: "move", path: "/a" }], /needs a from/],
    ["an inherited property", [{ op: "remove", path: "/metadata/toString" }], /does not exist/],
  ])("refuses %s", (_, ops, message) => {
    expect(() => applyJsonPatch(doc, ops)).toThrow(message);
  });

  it("leaves the document it was given untouched", () => {
    const before = structuredClone(doc);
    applyJsonPatch(doc, [{ op: "remove", path: "/metadata/labels/a" }]);
    expect(doc).toEqual(before);
  });

  it("copies a value with a __proto__ key as data, leaving every prototype alone", () => {
    const hostile = JSON.parse('{"metadata": {"name": "x"}, "__proto__": {"polluted": true}}');
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": [1, {"b": null}]}');
    const patched = applyJsonPatch(hostile, [{ op: "add", path: "/spec", value }]);
    expect(Object.getPrototypeOf(patched)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(patched.spec)).toBe(Object.prototype);
    expect(Object.hasOwn(patched, "__proto__")).toBe(true);
    expect(JSON.stringify(patched.spec)).toBe(JSON.stringify(value));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    patched.spec.a[1].b = 2;
    expect(value.a[1].b).toBeNull();
  });
});
