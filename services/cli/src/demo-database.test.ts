import { describe, expect, it } from "vitest";
import { demoDatabase } from "./demo.js";

describe("the demo's database", () => {
  it.each([
    // The server's maintenance database (the default): one made for the run, and dropped with it.
    [
      "postgres://postgres@127.0.0.1:5432/postgres",
      "postgres://postgres@127.0.0.1:5432/atoll_demo_abc123",
      true,
    ],
    ["postgres://postgres@127.0.0.1:5432", "postgres://postgres@127.0.0.1:5432/atoll_demo_abc123", true],
    // A database the user named is used as it is and never dropped.
    ["postgres://me:pw@db.internal:5433/atoll_demo", "postgres://me:pw@db.internal:5433/atoll_demo", false],
    ["postgres://postgres@127.0.0.1/my%20demo", "postgres://postgres@127.0.0.1/my%20demo", false],
  ])("DATABASE_URL %s → %s (owned: %s)", (given, url, owned) => {
    expect(demoDatabase(given, "abc123")).toEqual({ url, owned });
  });
});
