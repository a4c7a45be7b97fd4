import { describe, expect, it } from "vitest";
import { recordHeartbeats } from "./clusters.js";
import { recordIssues } from "./issues.js";
import { suiteDatabase } from "./testing.js";

describe("query plans", () => {
  // One connection, so every statement below is prepared on the session that is then looked at.
  const handle = suiteDatabase("plans", { maxConnections: 1 });

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
});
