import { healthScore, SEVERITIES, SEVERITY_WEIGHT, type Severity } from "@atoll/insight";
import { suiteDatabase } from "@atoll/store/testing";
import { describe, expect, it } from "vitest";

/**
 * The health score lives twice, once in each language that needs it: the index's SQL functions
 * (migration 0023) score the fleet, libs/insight scores manifests offline for `atoll check`. The
 * two must give one answer for every set of findings.
 */
describe("the health score in SQL and in TypeScript", () => {
  const handle = suiteDatabase("health_score");

  it("weighs every severity alike", async () => {
    for (const severity of SEVERITIES) {
      const [row] = await handle.sql<{ weight: number }[]>`select severity_weight(${severity}) as weight`;
      expect(row?.weight, severity).toBe(SEVERITY_WEIGHT[severity]);
    }
  });

  const findings: Severity[][] = [
    [],
    ["info"],
    ["critical"],
    ["low", "medium"],
    ["high", "high", "critical"],
    [...SEVERITIES, ...SEVERITIES],
    Array.from({ length: 40 }, () => "critical" as const),
  ];
  it.each(findings.map((open) => [open.join(",") || "none", open] as const))(
    "scores %s alike",
    async (_name, open) => {
      const [row] = await handle.sql<{ score: number }[]>`
        select health_score(count(s), coalesce(sum(severity_weight(s)), 0))::float as score
        from unnest(${open}::text[]) s`;
      expect(row?.score).toBeCloseTo(healthScore(open), 9);
    },
  );
});
