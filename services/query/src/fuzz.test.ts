import { seededRandom } from "@atoll/kube-sim";
import { suiteDatabase } from "@atoll/store/testing";
import { describe, expect, it } from "vitest";
import { testQueryApp } from "./test-app.js";

const HOSTILE = [
  "'; DROP TABLE resources; --",
  "' OR '1'='1",
  "SELECT * FROM resources WHERE name = '' OR 1=1 --'",
  "SELECT * FROM resources WHERE name = 'x' UNION SELECT * FROM tokens",
  "SELECT * FROM resources WHERE pg_sleep(5) IS NULL",
  "SELECT * FROM resources WHERE status.phase = $$evil$$",
  "SELECT * FROM resources WHERE labels['a'') OR true --'] = 'b'",
  "SELECT * FROM resources WHERE spec.x'y = 1",
  "kind:Pod name:*'; select 1; --*",
  "app in ('a', 'b')",
  "\u0000\u0001\uffff",
  "𝒜𝓉ℴ𝓁𝓁 日本語 ﷽",
  "a".repeat(5000),
  "((((((((((",
  "SELECT * FROM resources WHERE name IN (SELECT name FROM pg_user)",
  "select * from resources where kind = 'Pod'; delete from resources",
  "/**/SELECT/**/*/**/FROM/**/resources",
  "SELECT * FROM resources WHERE search('\\'; drop')",
];

describe("fuzzing the search endpoints", () => {
  const handle = suiteDatabase("fuzz", { onQuery: (text) => statements.push(text) });
  const statements: string[] = [];

  function randomInputs(count: number): string[] {
    const random = seededRandom(99);
    const alphabet = [
      "'",
      '"',
      ";",
      "-",
      "(",
      ")",
      "*",
      "%",
      "_",
      "\\",
      " ",
      "=",
      "!",
      "<",
      ">",
      ",",
      ".",
      "[",
      "]",
      "$",
      "a",
      "k",
      "1",
      "SELECT",
      "FROM",
      "WHERE",
      "resources",
      "AND",
      "OR",
      "NOT",
      "labels",
      "status.phase",
      "IN",
      "LIKE",
      ":",
    ];
    return Array.from({ length: count }, () =>
      Array.from(
        { length: 1 + Math.floor(random() * 12) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join(""),
    );
  }

  it("never answers 5xx and never sends user text to Postgres outside a parameter", async () => {
    // These tests are about other behaviour; access control has its own.
    const app = testQueryApp(handle, { auth: { anonymousRole: "viewer" } });
    const inputs = [...HOSTILE, ...randomInputs(400)];
    const statuses = new Map<number, number>();
    for (const input of inputs) {
      for (const url of [
        `/api/v1/search?mode=sql&q=${encodeURIComponent(input)}`,
        `/api/v1/search?mode=keyword&q=${encodeURIComponent(input)}`,
        `/api/v1/search?mode=nl&q=${encodeURIComponent(input)}`,
        `/api/v1/resources?labelSelector=${encodeURIComponent(input)}&name=${encodeURIComponent(input)}&q=${encodeURIComponent(input)}`,
        `/api/v1/search?q=x&continue=${encodeURIComponent(input)}&limit=${encodeURIComponent(input)}`,
      ]) {
        const response = await app.inject({ url });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        expect(response.statusCode, `${url} → ${response.body.slice(0, 200)}`).toBeLessThan(500);
      }
    }
    expect(statuses.get(200)).toBeGreaterThan(10);
    expect(statuses.get(400)).toBeGreaterThan(10);
    const distinctive = inputs.filter((i) => i.length >= 6 && /['";]/.test(i));
    for (const statement of statements) {
      for (const input of distinctive)
        expect(statement.includes(input), `statement holds ${input}`).toBe(false);
    }
    expect(statements.length).toBeGreaterThan(100);
  }, 120_000);
});
