import { resolveKind } from "@atoll/search";
import { applyIndexOps } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { testQueryApp } from "./test-app.js";

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
  const handle = suiteDatabase("query_app");
  let busUp = true;

  const app = () =>
    testQueryApp(handle, {
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

describe("search output formats", () => {
  const handle = suiteDatabase("formats");

  beforeAll(async () => {
    await applyIndexOps(
      handle.sql,
      ["web-1", "web-2"].map((name) => ({
        op: "upsert" as const,
        row: {
          cluster: "eu",
          uid: `uid-${name}`,
          apiGroup: "",
          apiVersion: "v1",
          kind: "Pod",
          resource: "pods",
          namespace: "shop",
          name,
          resourceVersion: 1n,
          syncId: "s",
          objectJson: JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: "shop", uid: `uid-${name}` },
            spec: { containers: [{ name: "main", image: `registry/${name}:1` }] },
          }),
        },
      })),
    );
  });

  const search = (format: string, extra = "") =>
    testQueryApp(handle, { auth: { anonymousRole: "viewer" } }).inject({
      url: `/api/v1/search?q=kind:Pod&format=${encodeURIComponent(format)}${extra}`,
    });

  it("says when a search found nothing because no object has the kind it asks for", async () => {
    const ask = async (q: string) =>
      (
        await testQueryApp(handle, { auth: { anonymousRole: "viewer" } }).inject({
          url: `/api/v1/search?q=${encodeURIComponent(q)}`,
        })
      ).json();
    const misspelt = await ask("kind:Podd");
    expect(misspelt.items).toEqual([]);
    expect(misspelt.notes).toEqual([expect.stringMatching(/no object of kind "Podd" is indexed/)]);
    // An empty answer of a built-in kind, or of a kind that is there, needs no note.
    expect((await ask("kind:Deployment")).notes).toBeUndefined();
    expect((await ask("kind:Pod ns:nowhere")).notes).toBeUndefined();
    expect((await ask("kind:Pod")).items).toHaveLength(2);
    // A word neither the reader nor any visible object knows is left out, and the answer says so.
    const nl = async (q: string) =>
      (
        await testQueryApp(handle, { auth: { anonymousRole: "viewer" } }).inject({
          url: `/api/v1/search?mode=nl&q=${encodeURIComponent(q)}`,
        })
      ).json();
    const question = await nl("pods with flibbertigibbet");
    expect(question.items).toHaveLength(2);
    expect(question.interpretation).toMatchObject({ searched: [], ignored: ["flibbertigibbet"] });
    expect(question.notes).toEqual([expect.stringMatching(/not understood.*left out: flibbertigibbet/)]);
    // A word the fleet holds is used: here it is the name of the pod's image, so it is read as one.
    const [pod] = (await ask("kind:Pod")).items;
    const named = await nl(`pods with ${pod.name}`);
    expect(named.interpretation).toMatchObject({ searched: [], ignored: [] });
    expect(named.sql).toContain(`image LIKE '%${pod.name}%'`);
    expect(named.items.map((item: { name: string }) => item.name)).toEqual([pod.name]);
    // A word held only in an object's text is searched for as text: it may be a name.
    const held = await nl("pods with shop");
    expect(held.interpretation).toMatchObject({ ignored: [] });
  });

  it("answers format=yaml and format=json with a v1 List that names each object's cluster", async () => {
    const yaml = await search("yaml", "&limit=1");
    expect(yaml.headers["content-type"]).toContain("application/yaml");
    const list = YAML.parse(yaml.body);
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items).toHaveLength(1);
    expect(list.items[0].metadata.annotations["atoll.dev/cluster"]).toBe("eu");
    expect(list.metadata.continue).toBeTruthy();
    const json = JSON.parse((await search("json")).body);
    expect(json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      "web-1",
      "web-2",
    ]);
  });

  it("answers custom-columns as kubectl prints them", async () => {
    const text = await search("custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image");
    expect(text.headers["content-type"]).toContain("text/plain");
    expect(text.body.split("\n")).toEqual([
      "NAME    IMAGE",
      "web-1   registry/web-1:1",
      "web-2   registry/web-2:1",
      "",
    ]);
  });

  it("rejects an unknown format and a bad column spec with 400", async () => {
    expect((await search("xml")).json()).toMatchObject({ status: 400, code: "INVALID_FORMAT" });
    expect((await search("custom-columns=NAME")).json()).toMatchObject({
      status: 400,
      code: "INVALID_JSONPATH",
    });
  });
});
