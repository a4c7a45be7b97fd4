import { silentLogger } from "@atoll/log";
import { describe, expect, it } from "vitest";
import { type ChangeEvent, ChangeFeed, readChanges } from "./changes.js";
import { exampleRow } from "./example-row.js";
import { applyIndexOps, type ObjectRow } from "./resources.js";
import { suiteDatabase } from "./testing.js";

/** A pod whose uid is its name, and whose label tells which version of it a change holds. */
const row = (uid: string, rv: number): ObjectRow => ({
  ...exampleRow("Pod", "prod", uid, { metadata: { uid, labels: { rv: String(rv) } } }),
  uid,
  resourceVersion: BigInt(rv),
});
async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe("the change feed", () => {
  const handle = suiteDatabase("changes");

  it("hands over committed changes in order, with deleted objects' last state", async () => {
    const feed = new ChangeFeed(handle.sql, { logger: silentLogger(), pollMs: 60_000 });
    await feed.start();
    const seen: ChangeEvent[] = [];
    feed.subscribe((events) => seen.push(...events));
    const step = async (op: Parameters<typeof applyIndexOps>[1][number], count: number) => {
      await applyIndexOps(handle.sql, [op]);
      feed.wake();
      await waitFor(() => seen.length === count);
    };
    await step({ op: "upsert", row: row("a", 1) }, 1);
    await step({ op: "upsert", row: row("a", 2) }, 2);
    await step({ op: "delete", cluster: "c1", uid: "a", resourceVersion: 3n, syncId: "s1" }, 3);
    feed.stop();
    expect(seen.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect(seen[1]!.id).toBe(seen[0]!.id + 1n);
    expect((seen[2]!.object as { metadata: { labels: Record<string, string> } }).metadata.labels).toEqual({
      rv: "2",
    });
  });

  it("leaves out ADDED and MODIFIED changes of an object deleted since, but not their ids", async () => {
    const from = (await readChanges(handle.sql, 0n, 1)).last!;
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("b", 1) }]);
    await applyIndexOps(handle.sql, [
      { op: "delete", cluster: "c1", uid: "b", resourceVersion: 2n, syncId: "s1" },
    ]);
    const { events, last } = await readChanges(handle.sql, from + 2n, 100);
    expect(events.filter((e) => e.uid === "b").map((e) => e.type)).toEqual(["DELETED"]);
    expect(last).toBeGreaterThan(from);
  });

  it("waits at a gap left by a transaction that has not committed, and delivers it once it does", async () => {
    const feed = new ChangeFeed(handle.sql, { logger: silentLogger(), pollMs: 50, gapGraceMs: 60_000 });
    await feed.start();
    const seen: ChangeEvent[] = [];
    feed.subscribe((events) => seen.push(...events));
    let commit!: () => void;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    // The slow transaction takes its change id first, then a fast one commits a later id.
    const slow = handle.sql.begin(async (tx) => {
      await tx`
        insert into resource_changes (cluster, uid, api_group, kind, namespace, name, change_type, resource_version, object)
        values ('c1', 'slow', '', 'Pod', 'prod', 'slow', 'DELETED', 1, '{"metadata":{"name":"slow"}}')`;
      await committed;
    });
    await new Promise((r) => setTimeout(r, 100));
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("fast", 1) }]);
    await new Promise((r) => setTimeout(r, 400));
    expect(seen.map((e) => e.uid)).toEqual([]);
    commit();
    await slow;
    await waitFor(() => seen.length === 2);
    feed.stop();
    expect(seen.map((e) => e.uid)).toEqual(["slow", "fast"]);
  });
});
