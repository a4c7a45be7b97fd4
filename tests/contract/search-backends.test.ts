import { randomBytes } from "node:crypto";
import { OpenSearchClient, OpenSearchWriter, searchOpenSearch } from "@atoll/opensearch";
import {
  parseKeywordQuery,
  parseNaturalQuery,
  parseSqlQuery,
  type Query,
  type SearchPage,
  searchPostgres,
} from "@atoll/search";
import { applyIndexOps, type IndexOp, type ObjectRow, openDatabase, temporaryDatabase } from "@atoll/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** Every search back end must answer the same query with the same objects. */
type Search = (query: Query, page: { limit: number; withTotal?: boolean }) => Promise<SearchPage>;

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

function row(
  name: string,
  kind: string,
  object: Record<string, unknown>,
  extra: Partial<ObjectRow> = {},
): ObjectRow {
  const apiGroup = kind === "Pod" ? "" : "apps";
  const metadata = {
    name,
    namespace: "prod",
    uid: `uid-${name}`,
    creationTimestamp: hoursAgo(48),
    ...(object.metadata as object),
  };
  return {
    cluster: "c1",
    uid: `uid-${name}`,
    apiGroup,
    apiVersion: "v1",
    kind,
    resource: `${kind.toLowerCase()}s`,
    namespace: metadata.namespace,
    name,
    resourceVersion: 1n,
    syncId: "s1",
    objectJson: JSON.stringify({ apiVersion: apiGroup ? "apps/v1" : "v1", kind, ...object, metadata }),
    ...extra,
  };
}

/** web-1 and web-2 belong to the ReplicaSet text-replicas, which belongs to the Deployment healthy. */
const ownedBy = (name: string, kind: string) => [
  { apiVersion: "apps/v1", kind, name, uid: `uid-${name}`, controller: true },
];

const ROWS: ObjectRow[] = [
  row("web-1", "Pod", {
    metadata: {
      labels: { app: "web", team: "pay" },
      ownerReferences: ownedBy("text-replicas", "ReplicaSet"),
    },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  }),
  row("web-2", "Pod", {
    metadata: {
      labels: { app: "web" },
      creationTimestamp: hoursAgo(0.2),
      ownerReferences: ownedBy("text-replicas", "ReplicaSet"),
    },
    status: { phase: "Pending", conditions: [{ type: "Ready", status: "False" }] },
  }),
  row("api-1", "Pod", {
    metadata: { labels: { app: "api" } },
    spec: { containers: [{ image: "ghcr.io/acme/api:2" }] },
    status: {
      phase: "Running",
      containerStatuses: [{ restartCount: 4, state: { waiting: { reason: "CrashLoopBackOff" } } }],
    },
  }),
  row(
    "batch-1",
    "Pod",
    { metadata: { namespace: "batch" }, status: { phase: "Failed", reason: "Evicted" } },
    { namespace: "batch" },
  ),
  row("short", "Deployment", { spec: { replicas: 3 }, status: { readyReplicas: 1 } }),
  row("healthy", "Deployment", { spec: { replicas: 2 }, status: { readyReplicas: 2 } }),
  row("none-ready", "Deployment", { spec: { replicas: 2 }, status: {} }),
  row("text-replicas", "ReplicaSet", {
    metadata: { ownerReferences: ownedBy("healthy", "Deployment") },
    spec: { replicas: "many" },
  }),
  row(
    "other",
    "Pod",
    { metadata: { labels: { app: "web" } }, status: { phase: "Running" } },
    { cluster: "c2", uid: "uid-other-c2" },
  ),
];

const CASES: [string, () => Query, string[]][] = [
  ["keyword labels", () => parseKeywordQuery("app=web"), ["other", "web-1", "web-2"]],
  ["keyword != keeps missing labels", () => parseKeywordQuery("kind:Pod app!=web"), ["api-1", "batch-1"]],
  ["keyword status", () => parseKeywordQuery("status:CrashLoopBackOff"), ["api-1"]],
  ["keyword status from pod reason", () => parseKeywordQuery("status:Evicted"), ["batch-1"]],
  ["keyword age", () => parseKeywordQuery("age<1h"), ["web-2"]],
  ["keyword name wildcard", () => parseKeywordQuery("name:web-*"), ["web-1", "web-2"]],
  ["keyword words", () => parseKeywordQuery("pay"), ["web-1"]],
  ["keyword words inside the object", () => parseKeywordQuery("acme"), ["api-1"]],
  ["keyword words in status, by prefix", () => parseKeywordQuery("crashloop"), ["api-1"]],
  ["keyword words are values, not keys", () => parseKeywordQuery("containerStatuses"), []],
  [
    "sql path !=",
    () => parseSqlQuery("SELECT * FROM resources WHERE kind = 'Pod' AND status.phase != 'Running'"),
    ["batch-1", "web-2"],
  ],
  [
    "sql numbers, text read as numbers",
    () => parseSqlQuery("SELECT * FROM resources WHERE spec.replicas >= 2"),
    ["healthy", "none-ready", "short"],
  ],
  [
    "sql array path like",
    () => parseSqlQuery("SELECT * FROM resources WHERE spec.containers[*].image LIKE 'ghcr.io/%'"),
    ["api-1"],
  ],
  [
    "sql array path number",
    () => parseSqlQuery("SELECT * FROM resources WHERE status.containerStatuses[*].restartCount > 3"),
    ["api-1"],
  ],
  [
    "sql null label",
    () => parseSqlQuery("SELECT * FROM resources WHERE kind = 'Pod' AND labels['app'] IS NULL"),
    ["batch-1"],
  ],
  [
    "sql apiVersion and IN",
    () =>
      parseSqlQuery("SELECT * FROM resources WHERE apiVersion = 'apps/v1' AND name IN ('short', 'web-1')"),
    ["short"],
  ],
  [
    "sql NOT and OR",
    () => parseSqlQuery("SELECT * FROM resources WHERE NOT (kind = 'Pod') OR cluster = 'c2'"),
    ["healthy", "none-ready", "other", "short", "text-replicas"],
  ],
  [
    "owner by uid",
    () => ({ where: { type: "owner", owner: { uid: "uid-text-replicas" }, seniority: 0 }, orderBy: [] }),
    ["web-1", "web-2"],
  ],
  [
    "owner by name, two generations down",
    () => ({
      where: {
        type: "owner",
        owner: { name: "healthy", group: "apps", resource: "deployments", namespaces: ["prod"] },
        seniority: 1,
      },
      orderBy: [],
    }),
    ["web-1", "web-2"],
  ],
  [
    "owner by name in another namespace",
    () => ({
      where: { type: "owner", owner: { name: "healthy", namespaces: ["batch"] }, seniority: 1 },
      orderBy: [],
    }),
    [],
  ],
  [
    "sql condition",
    () => parseSqlQuery("SELECT * FROM resources WHERE condition('Ready') = 'True'"),
    ["web-1"],
  ],
  [
    "nl not ready: a missing condition counts",
    () => parseNaturalQuery("pods not ready").query,
    ["api-1", "batch-1", "other", "web-2"],
  ],
  [
    "nl fewer ready than desired",
    () => parseNaturalQuery("deployments with fewer ready replicas than desired").query,
    ["none-ready", "short"],
  ],
];

function contract(name: string, open: () => Promise<{ search: Search; close(): Promise<void> }>): void {
  describe(`search contract: ${name}`, () => {
    let backend: { search: Search; close(): Promise<void> };
    beforeAll(async () => {
      backend = await open();
    }, 60_000);
    afterAll(() => backend.close());

    it.each(CASES)("%s", async (_, query, expected) => {
      const page = await backend.search(query(), { limit: 100, withTotal: true });
      expect(page.items.map((i) => i.name).sort()).toEqual(expected);
      expect(page.total).toBe(expected.length);
    });

    it("counts by group", async () => {
      const page = await backend.search(parseSqlQuery("SELECT kind, COUNT(*) FROM resources GROUP BY kind"), {
        limit: 10,
      });
      expect(page.aggregations).toEqual([
        { key: { kind: "Pod" }, count: 5 },
        { key: { kind: "Deployment" }, count: 3 },
        { key: { kind: "ReplicaSet" }, count: 1 },
      ]);
    });

    it("pages in the default order without gaps", async () => {
      const names: string[] = [];
      let after: SearchPage["next"];
      do {
        const page = await backend.search(parseKeywordQuery(""), {
          limit: 3,
          ...(after ? { after } : {}),
        } as never);
        names.push(...page.items.map((i) => i.name));
        after = page.next;
      } while (after);
      expect(names).toEqual([
        "healthy",
        "none-ready",
        "short",
        "batch-1",
        "api-1",
        "web-1",
        "web-2",
        "text-replicas",
        "other",
      ]);
    });
  });
}

contract("Postgres", async () => {
  const database = await temporaryDatabase("search_contract");
  const handle = await openDatabase(database.url, { migrate: false });
  await applyIndexOps(
    handle.sql,
    ROWS.map((r): IndexOp => ({ op: "upsert", row: r })),
  );
  return {
    search: (query, page) => searchPostgres(handle.db, query, page),
    close: async () => {
      await handle.close();
      await database.drop();
    },
  };
});

// Runs wherever a real OpenSearch is reachable (OPENSEARCH_URL); this machine has none, so
// libs/opensearch pins the exact requests in golden files instead.
const openSearchUrl = process.env.OPENSEARCH_URL;
if (openSearchUrl) {
  contract("OpenSearch", async () => {
    const options = { url: openSearchUrl, prefix: `contract-${randomBytes(4).toString("hex")}-` };
    const writer = new OpenSearchWriter(options);
    await writer.ensureIndex();
    // Numbered as Postgres would number them.
    await writer.apply(ROWS.map((row, i) => ({ op: "upsert", row, revision: BigInt(i + 1) })));
    await writer.versions();
    const client = new OpenSearchClient(options);
    return {
      search: (query, page) => searchOpenSearch(client, query, page),
      close: async () => {
        await fetch(`${openSearchUrl.replace(/\/$/, "")}/${writer.index}`, { method: "DELETE" });
      },
    };
  });
}
