import type { Query } from "@atoll/ir";
import { applyIndexOps, type ObjectRow } from "@atoll/store";
import { suiteDatabase } from "@atoll/store/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { parseKeywordQuery } from "./keyword.js";
import { searchPostgres } from "./postgres.js";
import { parseSqlQuery } from "./sql.js";

const ROWS = 20_000;

function row(i: number): ObjectRow {
  const crashing = i % 500 === 0;
  const name = `app-${i % 400}-${i}`;
  return {
    cluster: `cluster-${i % 10}`,
    uid: `uid-${i}`,
    apiGroup: i % 4 === 0 ? "apps" : "",
    apiVersion: "v1",
    kind: i % 4 === 0 ? "Deployment" : "Pod",
    resource: i % 4 === 0 ? "deployments" : "pods",
    namespace: `ns-${i % 50}`,
    name,
    resourceVersion: BigInt(i + 1),
    syncId: "s1",
    objectJson: JSON.stringify({
      metadata: {
        name,
        labels: { app: `app-${i % 400}`, team: `team-${i % 7}` },
        creationTimestamp: "2026-01-01T00:00:00Z",
      },
      status: crashing
        ? { phase: "Running", containerStatuses: [{ state: { waiting: { reason: "CrashLoopBackOff" } } }] }
        : { phase: "Running" },
    }),
  };
}

/** The plan of the exact statement searchPostgres sends, with its parameters. */
describe("common query shapes stay off sequential scans", () => {
  const handle = suiteDatabase("explain", {
    onQuery: (text, parameters) => captured.push({ text, parameters }),
  });
  let captured: { text: string; parameters: unknown[] }[] = [];

  beforeAll(async () => {
    for (let start = 0; start < ROWS; start += 5000) {
      await applyIndexOps(
        handle.sql,
        Array.from({ length: 5000 }, (_, k) => ({ op: "upsert" as const, row: row(start + k) })),
      );
    }
    // Steady state, as autovacuum keeps it: GIN's pending list merged, statistics fresh. Right after
    // a bulk load the pending list is unsorted and the planner rightly avoids the index.
    await handle.sql`vacuum analyze resources`;
  }, 120_000);

  async function plan(query: Query): Promise<string> {
    captured = [];
    await searchPostgres(handle.db, query, { limit: 50 });
    const statement = captured.find(
      (c) => /from resources where/i.test(c.text) && !/count\(\*\)/i.test(c.text),
    );
    if (!statement) throw new Error("no search statement was captured");
    const rows = await handle.sql.unsafe(
      `explain (format json) ${statement.text}`,
      statement.parameters as never[],
    );
    return JSON.stringify(rows[0]?.["QUERY PLAN"]);
  }

  it.each([
    ["a label filter", parseKeywordQuery("app=app-7"), "resources_labels_gin"],
    [
      "labels IN in SQL",
      parseSqlQuery("SELECT * FROM resources WHERE labels['app'] IN ('app-1', 'app-2')"),
      "resources_labels_gin",
    ],
    [
      "kind, namespace and name",
      parseKeywordQuery("kind:Pod ns:ns-3 name:app-3-3"),
      "resources_kind_ns_name",
    ],
    [
      "cluster and kind",
      parseKeywordQuery("cluster:cluster-3 kind:Deployment ns:ns-3"),
      "resources_cluster_kind_ns_name",
    ],
    ["a status filter", parseKeywordQuery("status:CrashLoopBackOff"), "resources_status_reasons_gin"],
    ["free words", parseKeywordQuery("9017"), "resources_search_gin"],
  ])("%s", async (_name, query, index) => {
    const text = await plan(query);
    expect(text).toContain(index);
    expect(text).not.toMatch(/"Seq Scan"[^}]*"Relation Name":"resources"/);
  });
});
