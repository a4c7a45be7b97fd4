import { QueryError } from "@atoll/ir";
import { describe, expect, it } from "vitest";
import { parseKeywordQuery } from "./keyword.js";
import { toSqlText } from "./render.js";

describe("keyword queries", () => {
  it.each([
    ["kind:pods ns:prod", "SELECT * FROM resources WHERE kind = 'Pod' AND namespace = 'prod'"],
    ["cluster:eu-1 name:web-*", "SELECT * FROM resources WHERE cluster = 'eu-1' AND name LIKE 'web-%'"],
    ["name:a_b*", "SELECT * FROM resources WHERE name LIKE 'a\\_b%'"],
    ["app=web tier!=db", "SELECT * FROM resources WHERE labels['app'] = 'web' AND labels['tier'] != 'db'"],
    [
      "app in (a, b) !legacy",
      "SELECT * FROM resources WHERE labels['app'] IN ('a', 'b') AND labels['legacy'] IS NULL",
    ],
    ["env notin (dev)", "SELECT * FROM resources WHERE labels['env'] NOT IN ('dev')"],
    [
      "status:CrashLoopBackOff age<1h",
      "SELECT * FROM resources WHERE status = 'CrashLoopBackOff' AND age < '1h'",
    ],
    ["age>7d", "SELECT * FROM resources WHERE age > '1w'"],
    [
      "kind:Node condition:Ready!=True",
      "SELECT * FROM resources WHERE kind = 'Node' AND condition('Ready') != 'True'",
    ],
    ["condition:MemoryPressure=True", "SELECT * FROM resources WHERE condition('MemoryPressure') = 'True'"],
    [
      "checkout payments kind:Deployment",
      "SELECT * FROM resources WHERE kind = 'Deployment' AND search('checkout payments')",
    ],
    ['"o\'brien" ns:x', "SELECT * FROM resources WHERE namespace = 'x' AND search('o''brien')"],
    ["", "SELECT * FROM resources"],
  ])("%j → %s", (input, sql) => {
    expect(toSqlText(parseKeywordQuery(input))).toBe(sql);
  });

  it.each([
    ["colour:red", /unknown filter "colour:"/],
    ["age<soon", /not a duration/],
    ["app in (a,", /parenthesis is not closed/],
    ["condition:Ready", /write condition:Ready=True/],
    // A filter with its value forgotten once became a free word, and a silent empty search.
    ["kind:Pod ns:", /the filter "ns:" has no value/],
    ["status: CrashLoopBackOff", /the filter "status:" has no value/],
  ])("rejects %j with a clear error", (input, message) => {
    expect(() => parseKeywordQuery(input)).toThrow(QueryError);
    expect(() => parseKeywordQuery(input)).toThrow(message);
  });

  it("points at the offending token", () => {
    const error = (() => {
      try {
        parseKeywordQuery("kind:Pod colour:red");
      } catch (e) {
        return e as QueryError;
      }
    })();
    expect(error?.position).toBe(10);
    expect(error?.hint).toMatch(/cluster, kind, ns/);
  });
});
