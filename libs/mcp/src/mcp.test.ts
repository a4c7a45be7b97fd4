import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type ApiAnswer, pathWith, send, ToolError } from "./api.js";
import { bounded } from "./output.js";

const answering = (answer: ApiAnswer) => async () => answer;

describe("tool answers stay within their bound", () => {
  it("keeps as many items as fit, and says how many were left out and how to see them", () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ name: `object-${i}`, note: "x".repeat(100) }));
    const text = bounded({ total: 500, items }, { key: "items", narrow: "lower the limit" }, 4000);
    expect(text.length).toBeLessThanOrEqual(4000);
    const shown = parse(text);
    expect(shown.total).toBe(500);
    expect(shown.items.length).toBeGreaterThan(10);
    expect(shown.items.at(-1).name).toBe(`object-${shown.items.length - 1}`);
    expect(shown.truncated).toBe(
      `${shown.items.length} of 500 items shown, to stay within 4000 characters; lower the limit`,
    );
    // One more item would not have fitted.
    const count = shown.items.length;
    const more = stringify(
      {
        total: 500,
        items: items.slice(0, count + 1),
        truncated: shown.truncated.replace(`${count} of`, `${count + 1} of`),
      },
      { lineWidth: 0 },
    );
    expect(more.length).toBeGreaterThan(4000);
  });

  it("cuts an answer with no list, and says where", () => {
    const text = bounded({ object: { data: "v".repeat(10_000) } }, undefined, 2000);
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/# cut at 2000 of \d+ characters; ask for less/);
  });

  it("leaves an answer that fits as it is", () => {
    expect(parse(bounded({ items: [1, 2, 3] }, { key: "items", narrow: "" }))).toEqual({ items: [1, 2, 3] });
  });
});

describe("the hub's refusals become tool errors in its own words", () => {
  it.each([
    [
      { status: 403, body: { code: "FORBIDDEN", detail: "web-reader may not write; ask an admin" } },
      "the hub answered 403: FORBIDDEN: web-reader may not write; ask an admin",
    ],
    [
      { status: 404, body: { kind: "Status", message: 'no cluster "c1" that you can reach' } },
      'the hub answered 404: no cluster "c1" that you can reach',
    ],
    [
      { status: 503, body: { code: "DATABASE_UNAVAILABLE", detail: "retry" } },
      "the hub answered 503: DATABASE_UNAVAILABLE: retry (the hub could not answer; try again shortly)",
    ],
    [
      { status: 502, body: "upstream reset" },
      "the hub answered 502: upstream reset (the hub could not answer; try again shortly)",
    ],
    [{ status: 400, body: "" }, "the hub answered 400: the hub gave no reason"],
  ])("%j", async (answer, message) => {
    const refused = send(answering(answer), { method: "GET", path: "/x" });
    await expect(refused).rejects.toBeInstanceOf(ToolError);
    await expect(refused).rejects.toThrow(message);
  });

  it("passes an accepted answer through", async () => {
    await expect(
      send(answering({ status: 200, body: { items: [] } }), { method: "GET", path: "/" }),
    ).resolves.toEqual({
      items: [],
    });
  });

  it("encodes query parameters and leaves out the ones not given", () => {
    expect(pathWith("/api/v1/search", { q: "a&b=c", limit: 5, continue: undefined, previous: false })).toBe(
      "/api/v1/search?q=a%26b%3Dc&limit=5&previous=false",
    );
    expect(pathWith("/api/v1/whoami", {})).toBe("/api/v1/whoami");
  });
});
