import postgres from "postgres";
import { beforeEach, describe, expect, it } from "vitest";
import { databaseAnswers, databaseUnavailable, storableJson } from "./db.js";
import {
  applyIndexOps,
  type IndexOp,
  type ObjectRow,
  planIndexOps,
  type SettledOp,
  settledOps,
} from "./resources.js";
import { suiteDatabase } from "./testing.js";

function row(
  uid: string,
  rv: number,
  extra: Partial<ObjectRow> & { labels?: Record<string, string> } = {},
): ObjectRow {
  const { labels, ...rest } = extra;
  const name = rest.name ?? uid;
  return {
    cluster: "c1",
    uid,
    apiGroup: "",
    apiVersion: "v1",
    kind: "Pod",
    resource: "pods",
    namespace: "prod",
    name,
    resourceVersion: BigInt(rv),
    syncId: "s1",
    objectJson: JSON.stringify({
      metadata: { uid, name, labels: labels ?? {}, creationTimestamp: "2026-01-01T00:00:00Z" },
      rv,
    }),
    ...rest,
  };
}

describe("planIndexOps", () => {
  const upsert = (uid: string, rv: number, syncId = "s1"): IndexOp => ({
    op: "upsert",
    row: row(uid, rv, { syncId }),
  });
  const uidsOf = (payload: string) =>
    (JSON.parse(payload) as { u: string; rv: number }[]).map((r) => `${r.u}@${r.rv}`);

  it.each([
    {
      case: "keeps the last operation per object, a deletion winning a tie",
      ops: [
        upsert("a", 1),
        upsert("a", 3),
        upsert("b", 2),
        { op: "delete", cluster: "c1", uid: "b", resourceVersion: 2n, syncId: "s1" },
      ] as IndexOp[],
      plan: [{ upserts: ["a@3"], deletes: ["b"] }],
    },
    {
      case: "splits at a sweep, which runs after the writes before it and before those after it",
      ops: [upsert("a", 1), { op: "sweep", cluster: "c1", syncId: "s2" }, upsert("a", 2, "s2")] as IndexOp[],
      plan: [{ upserts: ["a@1"], deletes: [] }, "sweep s2", { upserts: ["a@2"], deletes: [] }],
    },
    {
      case: "orders by list before version: a newer list's older version stands",
      ops: [upsert("a", 9, "s1"), upsert("a", 4, "s2")] as IndexOp[],
      plan: [{ upserts: ["a@4"], deletes: [] }],
    },
  ])("$case", async ({ ops, plan }) => {
    expect(
      (await planIndexOps(ops)).map((step) =>
        "op" in step
          ? `sweep ${step.syncId}`
          : { upserts: step.upserts.flatMap(uidsOf), deletes: step.deletes.map((d) => d.uid) },
      ),
    ).toEqual(plan);
  });

  it("writes a thousand rows per statement, pausing after each", async () => {
    const ops = Array.from({ length: 2_500 }, (_, i) => upsert(`u${i}`, 1));
    let pauses = 0;
    const [step] = await planIndexOps(ops, undefined, async () => {
      pauses += 1;
    });
    expect(pauses).toBe(3);
    expect(
      step && "upserts" in step ? step.upserts.map((payload) => JSON.parse(payload).length) : [],
    ).toEqual([1000, 1000, 500]);
  });

  it("takes an object's words from the caller's parse, not a second one", async () => {
    const op = upsert("a", 1);
    const parsed = new Map([[op, { spec: { image: "parsed-by-caller" } }]]);
    const [step] = await planIndexOps([op], parsed);
    const [written] = step && "upserts" in step ? JSON.parse(step.upserts[0]!) : [];
    expect(written.w).toEqual(["parsed", "by", "caller"]);
    // The object itself is stored as the agent sent it.
    expect(written.o).toEqual(JSON.parse(op.op === "upsert" ? op.row.objectJson : ""));
  });
});

describe("index writes", () => {
  const handle = suiteDatabase("store_test");

  beforeEach(async () => {
    await handle.sql`truncate resources, resource_changes, resource_tombstones`;
  });

  const versions = async () =>
    Object.fromEntries(
      (await handle.sql`select uid, resource_version::float8 as rv from resources order by uid`).map((r) => [
        r.uid,
        r.rv,
      ]),
    );

  it("upserts, and never lets an older resourceVersion overwrite a newer one", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 5) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 3) }]);
    expect(await versions()).toEqual({ a: 5 });
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 9) }]);
    expect(await versions()).toEqual({ a: 9 });
    const [stored] = await handle.sql`select object->>'rv' as rv, labels from resources`;
    expect(stored?.rv).toBe("9");
  });

  it("keeps the last operation per object within a batch, in order", async () => {
    const result = await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("a", 1) },
      { op: "upsert", row: row("b", 2) },
      { op: "upsert", row: row("a", 3) },
      { op: "delete", cluster: "c1", uid: "b", resourceVersion: 4n, syncId: "s1" },
    ]);
    expect(await versions()).toEqual({ a: 3 });
    expect(result).toEqual({ upserted: 1, deleted: 0, swept: 0 });
  });

  it("sweeps rows of a resource type that a full list did not contain, and only those", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("old", 1, { syncId: "s0" }) },
      {
        op: "upsert",
        row: row("other-kind", 1, { syncId: "s0", kind: "ConfigMap", resource: "configmaps" }),
      },
      { op: "upsert", row: row("kept", 2, { syncId: "s0" }) },
    ]);
    const result = await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("kept", 2, { syncId: "s1" }) },
      { op: "upsert", row: row("new", 3, { syncId: "s1" }) },
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s1" },
    ]);
    expect(await versions()).toEqual({ kept: 2, new: 3, "other-kind": 1 });
    expect(result.swept).toBe(1);
  });

  it("keeps the newest version when a batch holds a redelivered older message after a newer one", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("x", 10) },
      { op: "upsert", row: row("x", 12) },
      { op: "upsert", row: row("x", 10) },
      { op: "delete", cluster: "c1", uid: "y", resourceVersion: 4n, syncId: "s1" },
      { op: "upsert", row: row("y", 3) },
    ]);
    expect(await versions()).toEqual({ x: 12 });
  });

  it("ignores a replayed upsert for an object that was already deleted", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("gone", 4) }]);
    await applyIndexOps(handle.sql, [
      { op: "delete", cluster: "c1", uid: "gone", resourceVersion: 5n, syncId: "s1" },
    ]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("gone", 3) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("gone", 4) }]);
    expect(await versions()).toEqual({});
  });

  it("lets a replayed old sweep remove only rows older than its own list", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("listed-in-s2", 5, { syncId: "s2" }) },
      { op: "upsert", row: row("stale-from-s0", 1, { syncId: "s0" }) },
    ]);
    await applyIndexOps(handle.sql, [
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s1" },
    ]);
    expect(await versions()).toEqual({ "listed-in-s2": 5 });
  });

  it("never moves a row back to an older sync for the same resourceVersion", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 5, { syncId: "s2" }) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 5, { syncId: "s1" }) }]);
    const [stored] = await handle.sql`select sync_id from resources where uid = 'a'`;
    expect(stored?.sync_id).toBe("s2");
  });

  it("confines a namespaced sweep to its namespace", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("in-a", 1, { namespace: "a", syncId: "s0" }) },
      { op: "upsert", row: row("in-b", 1, { namespace: "b", syncId: "s0" }) },
    ]);
    await applyIndexOps(handle.sql, [
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", namespace: "a", syncId: "s1" },
    ]);
    expect(await versions()).toEqual({ "in-b": 1 });
  });

  it("brings back, with the next full list, an object a forged deletion hid, and ignores the forgery's replay", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 5) }]);
    await applyIndexOps(handle.sql, [
      { op: "delete", cluster: "c1", uid: "live", resourceVersion: 99n, syncId: "s1" },
    ]);
    expect(await versions()).toEqual({});
    // The same list's events stay ordered behind the deletion.
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 6) }]);
    expect(await versions()).toEqual({});
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 6, { syncId: "s2" }) }]);
    expect(await versions()).toEqual({ live: 6 });
    await applyIndexOps(handle.sql, [
      { op: "delete", cluster: "c1", uid: "live", resourceVersion: 99n, syncId: "s1" },
    ]);
    expect(await versions()).toEqual({ live: 6 });
  });

  it("settles each batch into the writes a mirror makes, so a mirror with external versions follows Postgres", async () => {
    // OpenSearch's external_gte rule, tombstones included: a write lands when its version is at
    // least the document's or its tombstone's.
    const mirror = new Map<string, { version: bigint; rv?: bigint; deleted: boolean }>();
    const write = (ops: SettledOp[]) => {
      for (const op of ops) {
        if (op.op === "sweep") continue;
        const id = op.op === "upsert" ? op.row.uid : op.uid;
        const held = mirror.get(id);
        if (held && held.version > op.revision) continue;
        mirror.set(
          id,
          op.op === "upsert"
            ? { version: op.revision, rv: op.row.resourceVersion, deleted: false }
            : { version: op.revision, deleted: true },
        );
      }
    };
    const apply = async (ops: IndexOp[]) => {
      await applyIndexOps(handle.sql, ops);
      const settled = await settledOps(handle.sql, ops);
      write(settled);
      return settled;
    };
    const mirrored = () =>
      Object.fromEntries(
        [...mirror]
          .filter(([, doc]) => !doc.deleted)
          .map(([id, doc]) => [id, Number(doc.rv)])
          .sort(),
      );

    await apply([
      { op: "upsert", row: row("live", 5) },
      { op: "upsert", row: row("other", 7) },
    ]);
    // A forged deletion far in the future; then the next full list, whose versions are lower.
    await apply([{ op: "delete", cluster: "c1", uid: "live", resourceVersion: 10n ** 15n, syncId: "s1" }]);
    expect(mirrored()).toEqual({ other: 7 });
    await apply([
      { op: "upsert", row: row("live", 6, { syncId: "s2" }) },
      { op: "upsert", row: row("other", 7, { syncId: "s2" }) },
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s2" },
    ]);
    expect(mirrored()).toEqual({ live: 6, other: 7 });
    expect(mirrored()).toEqual(await versions());

    // A stale replay settles to nothing new; a batch the mirror never received settles again.
    expect(await apply([{ op: "upsert", row: row("live", 5) }])).toEqual([]);
    mirror.delete("other");
    const again = await apply([{ op: "upsert", row: row("other", 7, { syncId: "s2" }) }]);
    expect(again.map((op) => op.op)).toEqual(["upsert"]);
    // Within a batch, only what stands is written, once per object.
    const batch = await apply([
      { op: "upsert", row: row("live", 8, { syncId: "s2" }) },
      { op: "upsert", row: row("live", 9, { syncId: "s2" }) },
      { op: "delete", cluster: "c1", uid: "other", resourceVersion: 8n, syncId: "s2" },
    ]);
    expect(batch.map((op) => (op.op === "upsert" ? `upsert ${op.row.resourceVersion}` : op.op))).toEqual([
      "upsert 9",
      "delete",
    ]);
    expect(mirrored()).toEqual(await versions());
    expect(mirrored()).toEqual({ live: 9 });
  });

  it("replaces, with the next full list, an object a forged update from far in its future took over", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 5) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 10 ** 12, { name: "forged" }) }]);
    expect(await versions()).toEqual({ live: 10 ** 12 });
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("live", 5, { syncId: "s2" }) },
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s2" },
    ]);
    expect(await versions()).toEqual({ live: 5 });
    // The list's own watch goes on from there.
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("live", 6, { syncId: "s2" }) }]);
    expect(await versions()).toEqual({ live: 6 });
    const [kept] = await handle.sql`select name from resources where uid = 'live'`;
    expect(kept?.name).toBe("live");
  });

  it("outvotes a forged sweep with the next full list", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("a", 1) },
      { op: "upsert", row: row("b", 2) },
    ]);
    await applyIndexOps(handle.sql, [
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s5" },
    ]);
    expect(await versions()).toEqual({});
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 3) }]);
    expect(await versions()).toEqual({});
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("a", 3, { syncId: "s6" }) },
      { op: "upsert", row: row("b", 2, { syncId: "s6" }) },
      { op: "sweep", cluster: "c1", apiGroup: "", resource: "pods", syncId: "s6" },
    ]);
    expect(await versions()).toEqual({ a: 3, b: 2 });
  });

  it("removes, at the end of an agent run's first lists, the cluster's rows of every kind last seen before it", async () => {
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("pod-unsynced", 1, { syncId: "s0" }) },
      {
        op: "upsert",
        row: row("cm-unsynced", 1, { syncId: "s0", kind: "ConfigMap", resource: "configmaps" }),
      },
      { op: "upsert", row: row("pod-listed", 2, { syncId: "s2" }) },
      { op: "upsert", row: row("other-cluster", 1, { syncId: "s0", cluster: "c2" }) },
    ]);
    const result = await applyIndexOps(handle.sql, [{ op: "sweep", cluster: "c1", syncId: "s1" }]);
    expect(result.swept).toBe(2);
    expect(await versions()).toEqual({ "pod-listed": 2, "other-cluster": 1 });
    // Widened again: the next list brings them back.
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("pod-unsynced", 1, { syncId: "s3" }) }]);
    expect(await versions()).toEqual({ "pod-listed": 2, "pod-unsynced": 1, "other-cluster": 1 });
  });

  it("records history only when the resourceVersion changes", async () => {
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 1) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 1, { syncId: "s2" }) }]);
    await applyIndexOps(handle.sql, [{ op: "upsert", row: row("a", 2, { syncId: "s2" }) }]);
    await applyIndexOps(handle.sql, [
      { op: "delete", cluster: "c1", uid: "a", resourceVersion: 3n, syncId: "s2" },
    ]);
    const history =
      await handle.sql`select change_type, resource_version::int as rv from resource_changes order by id`;
    expect(history.map((h) => `${h.change_type}@${h.rv}`)).toEqual(["ADDED@1", "MODIFIED@2", "DELETED@2"]);
  });

  it("stores a NUL character as U+FFFD once made storable, and leaves an escaped backslash alone", async () => {
    const text = JSON.stringify({
      metadata: { uid: "nul", name: "nul", annotations: { "k\u0000": "a\u0000\\u0000" } },
    });
    await expect(
      applyIndexOps(handle.sql, [{ op: "upsert", row: row("nul", 1, { objectJson: text }) }]),
    ).rejects.toThrow();
    await applyIndexOps(handle.sql, [
      { op: "upsert", row: row("nul", 1, { objectJson: storableJson(text) }) },
    ]);
    const [stored] = await handle.sql<{ annotations: Record<string, string> }[]>`
      select annotations from resources where uid = 'nul'`;
    expect(stored?.annotations).toEqual({ "k\ufffd": "a\ufffd\\u0000" });
  });

  it("tells failures worth retrying from data Postgres refuses", async () => {
    const refusal = await handle.sql`select ${'{"a":"\\u0000"}'}::jsonb`.catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(Error);
    expect(databaseUnavailable(refusal)).toBe(false);
    const badTime = await handle.sql`select ${"not a time"}::timestamptz`.catch((error: unknown) => error);
    expect(databaseUnavailable(badTime)).toBe(false);
    const timeout = await handle.sql
      .begin(async (tx) => {
        await tx`set local statement_timeout = 10`;
        await tx`select pg_sleep(1)`;
      })
      .catch((error: unknown) => error);
    expect(timeout).toBeInstanceOf(Error);
    expect(databaseUnavailable(timeout)).toBe(true);
    expect(await databaseAnswers(handle.sql)).toBe(true);
    const unreachable = postgres("postgres://postgres@127.0.0.1:1/none", { connect_timeout: 1, max: 1 });
    const refused = await unreachable`select 1`.catch((error: unknown) => error);
    expect(databaseUnavailable(refused)).toBe(true);
    expect(await databaseAnswers(unreachable)).toBe(false);
    await unreachable.end();
  });
});
