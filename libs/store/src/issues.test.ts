import { describe, expect, it } from "vitest";
import { type IssueInput, type ObjectIssues, recordIssues } from "./issues.js";
import { suiteDatabase } from "./testing.js";

const finding = (rule: string): IssueInput => ({
  rule,
  severity: "high",
  category: "reliability",
  message: `${rule} found`,
});
const pod = (uid: string, rules: string[]): ObjectIssues => ({
  cluster: "c1",
  uid,
  kind: "Pod",
  namespace: "prod",
  name: uid,
  issues: rules.map(finding),
});

describe("recording issues", () => {
  const handle = suiteDatabase("issues");

  const open = async (uid: string) =>
    (
      await handle.sql<{ rule: string }[]>`
        select rule from issues where uid = ${uid} and resolved_at is null order by rule`
    ).map((r) => r.rule);

  it("opens new findings, resolves the ones that went away and reopens the ones that return", async () => {
    await recordIssues(handle.sql, [pod("a", ["crash-loop", "no-limits"])]);
    expect(await open("a")).toEqual(["crash-loop", "no-limits"]);

    await recordIssues(handle.sql, [pod("a", ["no-limits"])]);
    expect(await open("a")).toEqual(["no-limits"]);

    await recordIssues(handle.sql, [pod("a", ["crash-loop", "no-limits"])]);
    expect(await open("a")).toEqual(["crash-loop", "no-limits"]);
    const [reopened] = await handle.sql<{ fresh: boolean }[]>`
      select first_seen = last_seen as fresh from issues where uid = 'a' and rule = 'crash-loop'`;
    expect(reopened?.fresh).toBe(true);

    await recordIssues(handle.sql, [pod("a", [])]);
    expect(await open("a")).toEqual([]);
  });

  it("resolves only the rules a pass judges", async () => {
    await recordIssues(handle.sql, [pod("b", ["service-no-pods", "no-limits"])]);
    // A single-object pass does not judge the cross-object rule, so it stays open.
    await recordIssues(handle.sql, [pod("b", [])], { exceptRules: ["service-no-pods"] });
    expect(await open("b")).toEqual(["service-no-pods"]);
    await recordIssues(handle.sql, [pod("b", [])], { rules: ["service-no-pods"] });
    expect(await open("b")).toEqual([]);
  });

  it("handles a whole cluster's findings in one pass", async () => {
    const uids = Array.from({ length: 5000 }, (_, i) => `bulk-${i}`);
    await recordIssues(
      handle.sql,
      uids.map((uid) => pod(uid, ["r1", "r2", "r3"])),
    );
    await recordIssues(
      handle.sql,
      uids.map((uid, i) => pod(uid, i % 2 === 0 ? ["r1", "r2"] : ["r1", "r2", "r3"])),
    );
    const [counts] = await handle.sql<{ open: number; resolved: number }[]>`
      select count(*) filter (where resolved_at is null)::int as open,
        count(*) filter (where resolved_at is not null)::int as resolved
      from issues where uid like 'bulk-%'`;
    expect(counts).toEqual({ open: 12_500, resolved: 2_500 });
  });
});
