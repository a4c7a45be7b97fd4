import { readFileSync, writeFileSync } from "node:fs";
import { parseKeywordQuery, parseNaturalQuery, parseSqlQuery, type Query, QueryError } from "@atoll/search";
import { describe, expect, it } from "vitest";
import { OpenSearchClient } from "./client.js";
import { likeToWildcard, searchRequest } from "./query.js";
import { searchOpenSearch } from "./search.js";

const NOW = new Date("2026-11-21T12:00:00Z");

/** Representative queries from each front end; their requests are pinned in golden/queries.json. */
const QUERIES: [string, () => Query][] = [
  [
    "keyword: kind, namespace, labels, status, age, words",
    () =>
      parseKeywordQuery(
        "kind:pods ns:prod app=web tier!=db env in (a,b) !legacy status:CrashLoopBackOff age<1h checkout-api",
      ),
  ],
  ["keyword: name wildcard", () => parseKeywordQuery("cluster:eu-1 name:web-*")],
  [
    "sql: paths, numbers, like, null, between, not",
    () =>
      parseSqlQuery(
        "SELECT * FROM resources WHERE status.phase != 'Running' AND spec.replicas >= 3 AND spec.template.spec.containers[*].image LIKE 'nginx%' AND annotations['owner'] IS NULL AND resourceVersion NOT BETWEEN 10 AND 20 AND NOT (name ILIKE 'tmp_%')",
      ),
  ],
  [
    "sql: apiVersion, IN, OR",
    () =>
      parseSqlQuery(
        "SELECT * FROM resources WHERE apiVersion = 'apps/v1' AND (kind IN ('Deployment', 'StatefulSet') OR labels['app'] = 'x')",
      ),
  ],
  [
    "sql: order, limit, offset",
    () =>
      parseSqlQuery(
        "SELECT * FROM resources WHERE kind = 'Pod' ORDER BY creationTimestamp DESC LIMIT 50 OFFSET 100",
      ),
  ],
  [
    "sql: count by one column",
    () => parseSqlQuery("SELECT namespace, COUNT(*) FROM resources GROUP BY namespace"),
  ],
  [
    "sql: count by column and label",
    () =>
      parseSqlQuery(
        "SELECT cluster, labels['app'], COUNT(*) FROM resources WHERE kind = 'Pod' GROUP BY cluster, labels['app']",
      ),
  ],
  [
    "nl: fewer ready replicas than desired",
    () => parseNaturalQuery("deployments in payments with fewer ready replicas than desired").query,
  ],
  [
    "kube API: children of an owner uid",
    () => ({ where: { type: "owner", owner: { uid: "uid-rs" }, seniority: 0 }, orderBy: [] }),
  ],
  [
    "nl: nodes not ready, under memory pressure",
    () => parseNaturalQuery("nodes not ready under memory pressure").query,
  ],
  [
    "nl: restarted in the last hour (zh)",
    () => parseNaturalQuery("过去一小时重启过的 Pod", { now: NOW }).query,
  ],
];

describe("OpenSearch query translation", () => {
  it("matches the golden requests", () => {
    const requests = Object.fromEntries(
      QUERIES.map(([name, query]) => [name, searchRequest(query(), { limit: 100, withTotal: true })]),
    );
    const actual = `${JSON.stringify(requests, null, 2)}\n`;
    const golden = new URL("../golden/queries.json", import.meta.url);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden, actual);
    expect(actual).toBe(readFileSync(golden, "utf8"));
  });

  it("pages by search_after in the default order, from a cursor", () => {
    const request = searchRequest(parseKeywordQuery("kind:Pod"), {
      limit: 10,
      after: { cluster: "c", kind: "Pod", namespace: "n", name: "x", uid: "u" },
    });
    expect(request.search_after).toEqual(["c", "Pod", "n", "x", "u"]);
    expect(request.size).toBe(11);
    expect(request.track_total_hits).toBe(false);
  });

  it.each([
    ["web-%", "web-*"],
    ["a_b", "a?b"],
    ["100\\%", "100%"],
    ["x\\_y", "x_y"],
    ["what?*", "what\\?\\*"],
  ])("turns LIKE %s into the wildcard %s", (like, wildcard) => {
    expect(likeToWildcard(like)).toBe(wildcard);
  });

  it.each([
    ["SELECT * FROM resources WHERE spec.containers[0].image = 'x'", /array position/],
    ["SELECT * FROM resources ORDER BY spec.replicas", /ORDER BY spec.replicas is not available/],
    ["SELECT * FROM resources WHERE apiVersion LIKE 'apps%'", /apiVersion supports only/],
  ])("says plainly what it cannot do: %s", (sql, message) => {
    expect(() => searchRequest(parseSqlQuery(sql), { limit: 10 })).toThrow(QueryError);
    expect(() => searchRequest(parseSqlQuery(sql), { limit: 10 })).toThrow(message);
  });

  describe("owner filters, which OpenSearch resolves generation by generation", () => {
    /** A client whose every _search answers with the next of the given hit lists. */
    const scripted = (answers: { cluster: string; uid: string }[][]) => {
      const requests: Record<string, unknown>[] = [];
      const client = new OpenSearchClient({
        url: "http://search.invalid:9200",
        fetch: (async (_url: string, init: RequestInit) => {
          requests.push(JSON.parse(String(init.body)));
          const hits = (answers[requests.length - 1] ?? []).map((source) => ({
            _source: {
              ...source,
              apiGroup: "",
              apiVersion: "v1",
              kind: "Pod",
              namespace: "n",
              name: source.uid,
            },
          }));
          return new Response(JSON.stringify({ hits: { hits } }), { status: 200 });
        }) as typeof fetch,
      });
      return { client, requests };
    };

    it("finds the owner by name, then its children, then filters on the grandchildren's owners", async () => {
      const { client, requests } = scripted([
        [{ cluster: "c1", uid: "uid-deploy" }],
        [
          { cluster: "c1", uid: "uid-rs-1" },
          { cluster: "c1", uid: "uid-rs-2" },
        ],
        [{ cluster: "c1", uid: "uid-rs-1" }],
      ]);
      await searchOpenSearch(
        client,
        {
          where: {
            type: "owner",
            owner: { name: "web", group: "apps", resource: "deployments", namespaces: ["prod"] },
            seniority: 1,
          },
          orderBy: [],
        },
        { limit: 10 },
      );
      expect(requests).toHaveLength(3);
      expect(requests[0]!.query).toEqual({
        bool: {
          filter: [
            { term: { name: "web" } },
            { term: { apiGroup: "apps" } },
            { term: { resource: "deployments" } },
            { terms: { namespace: ["prod", ""] } },
          ],
        },
      });
      expect(requests[1]!.query).toEqual({
        bool: {
          should: [
            { bool: { filter: [{ term: { cluster: "c1" } }, { terms: { ownerUids: ["uid-deploy"] } }] } },
          ],
          minimum_should_match: 1,
        },
      });
      const final = JSON.stringify(requests[2]!.query);
      for (const uid of ["uid-rs-1", "uid-rs-2"]) expect(final).toContain(`{"term":{"ownerUids":"${uid}"}}`);
      expect(final).toContain(`{"term":{"cluster":"c1"}}`);
    });

    it("matches nothing, without looking for children, when no owner has the name", async () => {
      const { client, requests } = scripted([[]]);
      const page = await searchOpenSearch(
        client,
        { where: { type: "owner", owner: { name: "gone" }, seniority: 2 }, orderBy: [] },
        { limit: 10 },
      );
      expect(page.items).toEqual([]);
      expect(requests).toHaveLength(2);
      expect(requests[1]!.query).toEqual({
        bool: { filter: [{ bool: { should: [], minimum_should_match: 1 } }] },
      });
    });

    it("refuses an owner with more descendants in one generation than it will look up", async () => {
      const many = Array.from({ length: 10_001 }, (_, i) => ({ cluster: "c1", uid: `u-${i}` }));
      const { client } = scripted([many]);
      await expect(
        searchOpenSearch(
          client,
          { where: { type: "owner", owner: { name: "x" }, seniority: 0 }, orderBy: [] },
          {
            limit: 10,
          },
        ),
      ).rejects.toThrow(/more than 10000 objects/);
    });
  });

  it("shapes hits, cursors, totals and groups as the Postgres back end does", async () => {
    const answers: Record<string, unknown>[] = [];
    const client = new OpenSearchClient({
      url: "http://search.invalid:9200",
      prefix: "t-",
      fetch: (async (_url: string, init: RequestInit) => {
        answers.push(JSON.parse(String(init.body)));
        const doc = (name: string) => ({
          _source: {
            cluster: "c1",
            apiGroup: "apps",
            apiVersion: "v1",
            kind: "Deployment",
            namespace: "n",
            name,
            uid: `u-${name}`,
            resourceVersion: 7,
            object: { metadata: { name } },
          },
        });
        const body =
          answers.length === 1
            ? { hits: { total: { value: 10001, relation: "gte" }, hits: [doc("a"), doc("b"), doc("c")] } }
            : {
                hits: { total: { value: 3, relation: "eq" }, hits: [] },
                aggregations: { groups: { buckets: [{ key: ["c1", "web"], doc_count: 3 }] } },
              };
        return new Response(JSON.stringify(body), { status: 200 });
      }) as typeof fetch,
    });
    const page = await searchOpenSearch(client, parseKeywordQuery("kind:deploy"), {
      limit: 2,
      withTotal: true,
    });
    expect(page.items.map((i) => [i.apiVersion, i.name, i.resourceVersion])).toEqual([
      ["apps/v1", "a", "7"],
      ["apps/v1", "b", "7"],
    ]);
    expect(page.next).toEqual({ cluster: "c1", kind: "Deployment", namespace: "n", name: "b", uid: "u-b" });
    expect(page).toMatchObject({ total: 10001, totalIsEstimate: true });
    const grouped = await searchOpenSearch(
      client,
      parseSqlQuery("SELECT cluster, labels['app'], COUNT(*) FROM resources GROUP BY cluster, labels['app']"),
      { limit: 10, withTotal: true },
    );
    expect(grouped.aggregations).toEqual([{ key: { cluster: "c1", "labels['app']": "web" }, count: 3 }]);
    expect(grouped).toMatchObject({ total: 3, totalIsEstimate: false });
  });
});
