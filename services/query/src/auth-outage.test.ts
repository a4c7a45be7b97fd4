import { suiteDatabase } from "@atoll/store/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testQueryApp } from "./test-app.js";

const ADMIN = "bootstrap-admin-token-for-outage-tests";

/**
 * The database drops the hub's connections again and again (as a failover or an operator's
 * pg_terminate_backend does): a valid token must never read as invalid, and no request may
 * answer anything but its answer or a 503 that says to retry.
 */
describe("authentication and queries while the database drops connections", () => {
  const handle = suiteDatabase("outage");
  let killer: postgres.Sql;
  let token = "";

  beforeAll(async () => {
    const app = testQueryApp(handle, { auth: { adminToken: ADMIN } });
    const created = await app.inject({
      method: "POST",
      url: "/api/v1/tokens",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { name: "steady", role: "viewer" },
    });
    token = created.json().token;
    killer = postgres(handle.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await killer.end();
  });

  it("never answers 401 to a valid token, nor 500 to a query, while backends are terminated", {
    timeout: 120_000,
  }, async () => {
    let killing = true;
    let terminated = 0;
    const kill = (async () => {
      while (killing) {
        const [row] = await killer`
          select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`;
        terminated += row?.n ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const statuses = new Map<string, number>();
    try {
      // Without a token cache every request looks its token up.
      const app = testQueryApp(handle, { auth: { adminToken: ADMIN, tokenCacheMs: 0 } });
      for (const until = Date.now() + 8_000; Date.now() < until; ) {
        for (const url of ["/api/v1/whoami", "/api/v1/search?q=kind:Pod"]) {
          const response = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
          const key = `${url.split("?")[0]} ${response.statusCode}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      }
    } finally {
      killing = false;
      await kill;
    }
    expect(terminated).toBeGreaterThan(10);
    const unexpected = [...statuses].filter(([key]) => !/ (200|503)$/.test(key));
    expect(unexpected, JSON.stringify([...statuses])).toEqual([]);
    expect(statuses.get("/api/v1/whoami 200")).toBeGreaterThan(0);
  });
});
