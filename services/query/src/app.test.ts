import { silentLogger } from "@atoll/log";
import { resolveKind } from "@atoll/search";
import { type DatabaseHandle, openDatabase, temporaryDatabase } from "@atoll/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildQueryApp } from "./app.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

describe("resolveKind", () => {
  it.each([
    ["pods", "Pod"],
    ["po", "Pod"],
    ["Pod", "Pod"],
    ["deploy", "Deployment"],
    ["Ingress", "Ingress"],
    ["Widget", "Widget"],
  ])("%s → %s", (input, kind) => {
    expect(resolveKind(input)).toBe(kind);
  });
});

describe("continue tokens", () => {
  it("round-trips a cursor and rejects foreign tokens", () => {
    const cursor = { cluster: "c", kind: "Pod", namespace: "n", name: "x", uid: "u" };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(() => decodeCursor("bm90LWpzb24")).toThrow(/continue token/);
  });
});

describe("query HTTP", () => {
  let database: { url: string; drop(): Promise<void> };
  let handle: DatabaseHandle;
  let busUp = true;

  beforeAll(async () => {
    database = await temporaryDatabase("query_app");
    handle = await openDatabase(database.url, { migrate: false });
  });
  afterAll(async () => {
    await handle.close();
    await database.drop();
  });

  const app = () =>
    buildQueryApp({
      db: handle.db,
      sql: handle.sql,
      logger: silentLogger(),
      // These tests are about other behaviour; access control has its own.
      auth: { anonymousRole: "viewer" },
      checkBus: async () => {
        if (!busUp) throw new Error("nats: connection closed");
      },
    });

  it("reports readiness of Postgres and NATS, and 503 with the reason when one is down", async () => {
    busUp = true;
    const ok = await app().inject({ url: "/readyz" });
    expect(ok.statusCode).toBe(200);
    busUp = false;
    const down = await app().inject({ url: "/readyz" });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({
      status: "not ready",
      checks: { postgres: "ok", nats: "nats: connection closed" },
    });
  });

  it("answers unknown routes with a problem+json 404", async () => {
    const response = await app().inject({ url: "/api/v1/nope" });
    expect(response.statusCode).toBe(404);
    expect(response.headers["content-type"]).toContain("application/problem+json");
    expect(response.json()).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  it("lists nothing from an empty index, with no continue token", async () => {
    const response = await app().inject({ url: "/api/v1/resources?kind=pods" });
    expect(response.json()).toEqual({ items: [], continue: null });
  });
});
