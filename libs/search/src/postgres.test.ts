import type { Query } from "@atoll/ir";
import { applyIndexOps, type ObjectRow } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { parseKeywordQuery } from "./keyword.js";
import { type SearchPage, searchPostgres } from "./postgres.js";
import { parseSqlQuery } from "./sql.js";

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

function pod(
  name: string,
  extra: {
    labels?: Record<string, string>;
    created?: string;
    status?: unknown;
    image?: string;
    ns?: string;
    cluster?: string;
  } = {},
): ObjectRow {
  return {
    cluster: extra.cluster ?? "c1",
    uid: `uid-${name}`,
    apiGroup: "",
    apiVersion: "v1",
    kind: "Pod",
    resource: "pods",
    namespace: extra.ns ?? "prod",
    name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        uid: `uid-${name}`,
        labels: extra.labels ?? {},
        creationTimestamp: extra.created ?? hoursAgo(48),
      },
      spec: { containers: [{ name: "main", image: extra.image ?? "nginx:1.27" }] },
      status: extra.status ?? { phase: "Running" },
    }),
  };
}

describe("search on Postgres", () => {
  const handle = suiteDatabase("search_test");

  beforeAll(async () => {
    const rows = [
      pod("web-1", { labels: { app: "web", team: "payments" } }),
      pod("web-2", { labels: { app: "web" }, created: hoursAgo(0.2) }),
      pod("api-1", {
        labels: { app: "api" },
        status: {
          phase: "Running",
          containerStatuses: [{ state: { waiting: { reason: "CrashLoopBackOff" } } }],
        },
      }),
      pod("bare", { image: "ghcr.io/acme/checkout:2.0" }),
      pod("evicted", { status: { phase: "Failed", reason: "Evicted" }, ns: "batch" }),
      pod("other-cluster", { cluster: "c2", labels: { app: "web" } }),
    ];
    await applyIndexOps(
      handle.sql,
      rows.map((row) => ({ op: "upsert" as const, row })),
    );
  });

  const names = async (query: Query) =>
    (await searchPostgres(handle.db, query, { limit: 100 })).items.map((i) => i.name).sort();
  const keyword = (text: string) => names(parseKeywordQuery(text));

  it.each([
    ["app=web", ["other-cluster", "web-1", "web-2"]],
    ["app!=web", ["api-1", "bare", "evicted"]],
    ["app notin (web,api)", ["bare", "evicted"]],
    ["!app", ["bare", "evicted"]],
    ["cluster:c1 app=web", ["web-1", "web-2"]],
    ["status:CrashLoopBackOff", ["api-1"]],
    ["status:Evicted", ["evicted"]],
    ["age<1h", ["web-2"]],
    ["name:web-*", ["web-1", "web-2"]],
    ["kind:po ns:batch", ["evicted"]],
    ["pay", ["web-1"]],
    // Words inside the object count too: the image, a container's waiting reason.
    ["checkout", ["bare"]],
    ["crashloop", ["api-1"]],
    ["ghcr acme", ["bare"]],
    ["'; drop table resources; --", []],
  ])("%j", async (text, expected) => {
    expect(await keyword(text)).toEqual(expected);
  });

  const sqlNames = (text: string) => names(parseSqlQuery(text));

  it.each([
    ["SELECT * FROM resources WHERE labels['app'] != 'web'", ["api-1", "bare", "evicted"]],
    ["SELECT * FROM resources WHERE labels['app'] = 'web' AND cluster = 'c1'", ["web-1", "web-2"]],
    ["SELECT * FROM resources WHERE status.phase != 'Running'", ["evicted"]],
    ["SELECT * FROM resources WHERE spec.containers[*].image LIKE 'ghcr.io/%'", ["bare"]],
    ["SELECT * FROM resources WHERE name LIKE 'web-%' OR namespace = 'batch'", ["evicted", "web-1", "web-2"]],
    [
      "SELECT * FROM resources WHERE NOT (name IN ('web-1', 'web-2', 'bare'))",
      ["api-1", "evicted", "other-cluster"],
    ],
    [
      "SELECT * FROM resources WHERE labels['team'] IS NULL AND labels['app'] IS NOT NULL",
      ["api-1", "other-cluster", "web-2"],
    ],
    [
      "SELECT * FROM resources WHERE creationTimestamp > '2000-01-01' AND age > '1d'",
      ["api-1", "bare", "evicted", "other-cluster", "web-1"],
    ],
    ["SELECT * FROM resources WHERE status = 'CrashLoopBackOff'", ["api-1"]],
  ])("%s", async (text, expected) => {
    expect(await sqlNames(text)).toEqual(expected);
  });

  it("matches a status or a kind whatever its case, and statuses in conditions and last states", async () => {
    const rows = [
      pod("unschedulable", {
        cluster: "c-status",
        status: {
          phase: "Pending",
          conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
        },
      }),
      pod("oom-looping", {
        cluster: "c-status",
        status: {
          phase: "Running",
          containerStatuses: [
            { state: { running: {} }, lastState: { terminated: { reason: "OOMKilled", exitCode: 137 } } },
          ],
        },
      }),
    ];
    await applyIndexOps(
      handle.sql,
      rows.map((row) => ({ op: "upsert" as const, row })),
    );
    try {
      expect(await keyword("cluster:c-status status:running")).toEqual(["oom-looping"]);
      expect(await keyword("cluster:c-status status:PENDING")).toEqual(["unschedulable"]);
      expect(await keyword("cluster:c-status status:Unschedulable")).toEqual(["unschedulable"]);
      expect(await keyword("cluster:c-status status:oomkilled")).toEqual(["oom-looping"]);
      expect(await keyword("status:crashloopbackoff")).toEqual(["api-1"]);
      expect(await sqlNames("SELECT * FROM resources WHERE cluster = 'c-status' AND kind = 'pod'")).toEqual([
        "oom-looping",
        "unschedulable",
      ]);
      expect(
        await sqlNames(
          "SELECT * FROM resources WHERE cluster = 'c-status' AND kind IN ('pods', 'Deployment')",
        ),
      ).toEqual(["oom-looping", "unschedulable"]);
      expect(await sqlNames("SELECT * FROM resources WHERE status = 'oomKilled'")).toEqual(["oom-looping"]);
    } finally {
      await applyIndexOps(
        handle.sql,
        rows.map((row) => ({
          op: "delete" as const,
          cluster: row.cluster,
          uid: row.uid,
          resourceVersion: 2n,
          syncId: row.syncId,
        })),
      );
    }
  });

  it("orders, limits and pages by offset", async () => {
    const query = parseSqlQuery("SELECT * FROM resources ORDER BY name DESC LIMIT 4");
    const first = await searchPostgres(handle.db, query, { limit: 3 });
    expect(first.items.map((i) => i.name)).toEqual(["web-2", "web-1", "other-cluster"]);
    expect(first.next).toEqual({ offset: 3 });
    const second = await searchPostgres(handle.db, query, { limit: 3, after: first.next! });
    expect(second.items.map((i) => i.name)).toEqual(["evicted"]);
    expect(second.next).toBeUndefined();
  });

  it("delivers a LIMIT above the page size in full, over as many pages as it takes", async () => {
    const query = parseSqlQuery("SELECT * FROM resources LIMIT 5");
    const everything = (
      await searchPostgres(handle.db, parseSqlQuery("SELECT * FROM resources"), { limit: 100 })
    ).items;
    const pages = [];
    let after: SearchPage["next"];
    do {
      const page = await searchPostgres(handle.db, query, { limit: 2, ...(after ? { after } : {}) });
      pages.push(page.items.map((i) => i.name));
      after = page.next;
    } while (after);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    // In the default order, as a query without LIMIT pages.
    expect(pages.flat()).toEqual(everything.slice(0, 5).map((i) => i.name));
  });

  it("returns COUNT(*) per group instead of dropping it", async () => {
    const page = await searchPostgres(
      handle.db,
      parseSqlQuery("SELECT cluster, namespace, COUNT(*) FROM resources GROUP BY cluster, namespace"),
      { limit: 10 },
    );
    expect(page.aggregations).toEqual([
      { key: { cluster: "c1", namespace: "prod" }, count: 4 },
      { key: { cluster: "c1", namespace: "batch" }, count: 1 },
      { key: { cluster: "c2", namespace: "prod" }, count: 1 },
    ]);
  });

  it("matches JSON paths through arrays, by value", async () => {
    const image: Query = {
      where: {
        type: "compare",
        field: { kind: "path", segments: ["spec", "containers", "*", "image"] },
        op: "=",
        value: "ghcr.io/acme/checkout:2.0",
      },
      orderBy: [],
    };
    expect(await names(image)).toEqual(["bare"]);
    const phase: Query = {
      where: {
        type: "compare",
        field: { kind: "path", segments: ["status", "phase"] },
        op: "!=",
        value: "Running",
      },
      orderBy: [],
    };
    expect(await names(phase)).toEqual(["evicted"]);
  });

  it("reads any key as a key, quotes and all, and refuses control characters", async () => {
    const hostile = (segments: string[]): Query => ({
      where: { type: "compare", field: { kind: "path", segments }, op: "=", value: 1 },
      orderBy: [],
    });
    for (const key of [`x'); drop table resources; --`, `a"b\\c`, "{a,b}", "example.com/tier"])
      expect(await names(hostile(["status", key]))).toEqual([]);
    const wildcard: Query = {
      where: {
        type: "like",
        field: { kind: "path", segments: ["spec", "*", `x") || ("`] },
        pattern: "%",
        negated: false,
        caseInsensitive: false,
      },
      orderBy: [],
    };
    expect(await names(wildcard)).toEqual([]);
    expect((await names({ orderBy: [] })).length).toBeGreaterThan(0);
    await expect(names(hostile(["status", "a\nb"]))).rejects.toThrow(/not a field name/);
  });

  it("pages by keyset without gaps or repeats, with an exact total", async () => {
    const seen: string[] = [];
    let after: SearchPage["next"];
    let total: number | undefined;
    do {
      const page = await searchPostgres(
        handle.db,
        { orderBy: [] },
        { limit: 4, withTotal: true, ...(after ? { after } : {}) },
      );
      seen.push(...page.items.map((i) => `${i.cluster}/${i.name}`));
      total = page.total;
      expect(page.totalIsEstimate).toBe(false);
      after = page.next;
    } while (after);
    // Order: cluster, kind, namespace ("batch" before "prod"), name, uid.
    expect(seen).toEqual(["c1/evicted", "c1/api-1", "c1/bare", "c1/web-1", "c1/web-2", "c2/other-cluster"]);
    expect(total).toBe(6);
  });
});
