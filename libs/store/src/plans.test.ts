import { describe, expect, it } from "vitest";
import { recordHeartbeats } from "./clusters.js";
import { recordIssues } from "./issues.js";
import { applyIndexOps } from "./resources.js";
import { suiteDatabase } from "./testing.js";

describe("query plans", () => {
  // One connection, so every statement below is prepared on the session that is then looked at.
  const handle = suiteDatabase("plans", { maxConnections: 1 });
  /** Rows of the issues table read so far, by scans and index fetches alike. */
  const issuesRead = async () => {
    await handle.sql`select pg_stat_force_next_flush()`;
    const [counts] = await handle.sql<{ n: number }[]>`
      select (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int as n from pg_stat_user_tables where relname = 'issues'`;
    return counts!.n;
  };

  it("plans each statement for the tables as they are, never with a plan cached while they were empty", async () => {
    // A fleet coming on board: the same set-based statements run again and again while the
    // issues table grows from nothing. A generic plan chosen on the empty table hashed the whole
    // table on every later run: 326 ms instead of 0.7 ms per call at 400,000 findings.
    const finding = { rule: "no-limits", severity: "medium", category: "efficiency", message: "no limits" };
    for (let round = 0; round < 12; round++)
      await recordIssues(handle.sql, [
        {
          cluster: "c1",
          uid: `pod-${round}`,
          kind: "Pod",
          namespace: "prod",
          name: `pod-${round}`,
          issues: [finding],
        },
      ]);
    for (let round = 0; round < 12; round++)
      await recordHeartbeats(handle.sql, [
        {
          name: `c${round}`,
          syncMode: "pull",
          ready: true,
          kubernetesVersion: "v1.30.0",
          status: {},
          lastHeartbeat: new Date(),
        },
      ]);
    // A statement without parameters has but one plan; only those with parameters can go generic.
    const [plans] = await handle.sql<{ statements: number; generic: number }[]>`
      select count(*)::int as statements, coalesce(sum(generic_plans), 0)::int as generic
      from pg_prepared_statements where cardinality(parameter_types) > 0`;
    expect(plans!.statements).toBeGreaterThan(0);
    expect(plans!.generic).toBe(0);
  });

  it("reads only the swept cluster's findings when a sweep resolves those of what it removed", async () => {
    // The open findings of a fleet, and one small cluster whose next list finds nothing. (At 5,000
    // clusters, with statistics from a smaller fleet, each sweep read and sorted all 446,000.)
    await handle.sql`insert into issues (cluster, uid, rule, container, kind, namespace, name, severity, category, message)
      select 'fleet-' || (g % 500), 'u-' || g, 'no-limits', '', 'Pod', 'prod', 'p' || g, 'medium', 'efficiency', 'x'
      from generate_series(1, 40000) g`;
    await applyIndexOps(
      handle.sql,
      [1, 2, 3, 4, 5].map((i) => ({
        op: "upsert" as const,
        row: {
          cluster: "small",
          uid: `small-${i}`,
          apiGroup: "",
          apiVersion: "v1",
          kind: "Pod",
          resource: "pods",
          namespace: "prod",
          name: `p${i}`,
          resourceVersion: BigInt(i),
          syncId: "a-list",
          objectJson: JSON.stringify({ metadata: { name: `p${i}`, namespace: "prod" } }),
        },
      })),
    );
    await handle.sql`insert into issues (cluster, uid, rule, container, kind, namespace, name, severity, category, message)
      select 'small', 'small-' || g, 'no-limits', '', 'Pod', 'prod', 'p' || g, 'medium', 'efficiency', 'x'
      from generate_series(1, 5) g`;
    const before = await issuesRead();
    await applyIndexOps(handle.sql, [{ op: "sweep", cluster: "small", syncId: "the-next-list" }]);
    const read = (await issuesRead()) - before;
    const [open] = await handle.sql<{ n: number }[]>`
      select count(*)::int as n from issues where cluster = 'small' and resolved_at is null`;
    expect(open!.n).toBe(0);
    // The five findings of the cluster, give or take; not the fleet's 40,000.
    expect(read).toBeLessThan(100);
  });

  it("resolves an object's findings reading its cluster's at most, though the table outgrew its statistics", async () => {
    // A fleet of 100 clusters comes on board: 40,000 open findings, written in bulk after the
    // table's statistics were taken. Joined to the objects alone, resolving two objects' findings
    // hashed every open finding of the fleet, 14 ms a batch, and 100 clusters' changes reached the
    // index 2 s late.
    await handle.sql`insert into issues (cluster, uid, rule, container, kind, namespace, name, severity, category, message)
      select 'grown-' || (g % 100), 'g-' || g, 'no-limits', '', 'Pod', 'prod', 'p' || g, 'medium', 'efficiency', 'x'
      from generate_series(1, 40000) g`;
    const before = await issuesRead();
    const fixed = (uid: string) => ({
      cluster: "grown-7",
      uid,
      kind: "Pod",
      namespace: "prod",
      name: uid,
      issues: [],
    });
    await recordIssues(handle.sql, [fixed("g-107"), fixed("g-207")]);
    const read = (await issuesRead()) - before;
    const [open] = await handle.sql<{ n: number }[]>`
      select count(*)::int as n from issues where uid in ('g-107', 'g-207') and resolved_at is null`;
    expect(open!.n).toBe(0);
    // The cluster holds 400 findings and the fleet 40,000.
    expect(read).toBeLessThanOrEqual(400);
  });
});
