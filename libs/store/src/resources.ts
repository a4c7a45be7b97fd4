import type postgres from "postgres";
import { objectWords } from "./words.js";

/** One live object to write; objectJson is the redacted object exactly as the agent sent it. */
export interface ObjectRow {
  cluster: string;
  uid: string;
  apiGroup: string;
  apiVersion: string;
  kind: string;
  resource: string;
  namespace: string;
  name: string;
  resourceVersion: bigint;
  syncId: string;
  objectJson: string;
}

export type IndexOp =
  | { op: "upsert"; row: ObjectRow }
  /** resourceVersion is the deletion's, when known; back ends that version documents use it. */
  | { op: "delete"; cluster: string; uid: string; resourceVersion?: bigint }
  /** Removes rows of (cluster, group, resource[, namespace]) that the full list syncId did not contain. */
  | { op: "sweep"; cluster: string; apiGroup: string; resource: string; namespace?: string; syncId: string };

/** Rows per upsert statement: large enough to amortise round trips, small enough to plan fast. */
const UPSERT_CHUNK = 1000;

export interface ApplyResult {
  upserted: number;
  deleted: number;
  swept: number;
}

/**
 * Applies index operations in one transaction, in order. Between sweeps, only the last operation
 * per (cluster, uid) matters, so each segment collapses to one upsert and one delete statement.
 *
 * Every operation is safe to replay out of order, as a redelivery after a crash or a lost ack
 * would: an older resourceVersion never overwrites a newer one, a deleted uid is tombstoned so a
 * stale upsert cannot resurrect it, and sync ids grow with time so a replayed sweep only removes
 * rows older than its own list.
 */
export async function applyIndexOps(sql: postgres.Sql, ops: readonly IndexOp[]): Promise<ApplyResult> {
  const result: ApplyResult = { upserted: 0, deleted: 0, swept: 0 };
  await sql.begin(async (tx) => {
    let pending = new Map<string, IndexOp>();
    const flush = async () => {
      if (pending.size === 0) return;
      const upserts: ObjectRow[] = [];
      const deletes: { cluster: string; uid: string }[] = [];
      for (const op of pending.values()) {
        if (op.op === "upsert") upserts.push(op.row);
        else if (op.op === "delete") deletes.push(op);
      }
      pending = new Map();
      result.deleted += await deleteRows(tx, deletes);
      for (let i = 0; i < upserts.length; i += UPSERT_CHUNK) {
        result.upserted += await upsertRows(tx, upserts.slice(i, i + UPSERT_CHUNK));
      }
    };
    for (const op of ops) {
      if (op.op === "sweep") {
        await flush();
        result.swept += await sweep(tx, op);
        continue;
      }
      const key =
        op.op === "upsert" ? `${op.row.cluster}\u0000${op.row.uid}` : `${op.cluster}\u0000${op.uid}`;
      const kept = pending.get(key);
      if (!kept || supersedes(op, kept)) pending.set(key, op);
    }
    await flush();
  });
  return result;
}

/**
 * Which of two operations on one object stands, by the same rule the database applies: a
 * delete is final (uids never return), otherwise the newer resourceVersion, then the newer sync.
 * Arrival order is not trusted, because a redelivered message can arrive after its successors.
 */
function supersedes(candidate: IndexOp, kept: IndexOp): boolean {
  if (kept.op === "delete") return false;
  if (candidate.op === "delete") return true;
  if (candidate.op !== "upsert" || kept.op !== "upsert") return false;
  const a = candidate.row;
  const b = kept.row;
  return (
    a.resourceVersion > b.resourceVersion || (a.resourceVersion === b.resourceVersion && a.syncId > b.syncId)
  );
}

async function sweep(tx: postgres.TransactionSql, op: Extract<IndexOp, { op: "sweep" }>): Promise<number> {
  // What a sweep removes is gone from the cluster: tombstone it and resolve its open findings, by
  // key, in the same statement.
  const [swept] = await tx<{ n: number }[]>`
    with gone as (
      delete from resources
      where cluster = ${op.cluster} and api_group = ${op.apiGroup} and resource = ${op.resource}
        and sync_id < ${op.syncId} ${op.namespace === undefined ? tx`` : tx`and namespace = ${op.namespace}`}
      returning cluster, uid
    ),
    tombstoned as (
      insert into resource_tombstones (cluster, uid) select cluster, uid from gone
      on conflict (cluster, uid) do nothing
    ),
    resolved as (
      update issues i set resolved_at = now() from gone
      where i.cluster = gone.cluster and i.uid = gone.uid and i.resolved_at is null
    )
    select count(*)::int as n from gone`;
  return swept?.n ?? 0;
}

async function deleteRows(
  tx: postgres.TransactionSql,
  rows: { cluster: string; uid: string }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const clusters = rows.map((r) => r.cluster);
  const uids = rows.map((r) => r.uid);
  await tx`
    insert into resource_tombstones (cluster, uid)
    select * from unnest(${clusters}::text[], ${uids}::text[])
    on conflict (cluster, uid) do nothing`;
  const deleted = await tx`
    delete from resources r
    using unnest(${clusters}::text[], ${uids}::text[]) as d(cluster, uid)
    where r.cluster = d.cluster and r.uid = d.uid`;
  return deleted.count;
}

async function upsertRows(tx: postgres.TransactionSql, rows: ObjectRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  // Objects arrive as JSON text; splicing them into one JSON array avoids parsing them in Node.
  const payload = `[${rows
    .map(
      (r) =>
        `{"c":${JSON.stringify(r.cluster)},"u":${JSON.stringify(r.uid)},"g":${JSON.stringify(r.apiGroup)},` +
        `"v":${JSON.stringify(r.apiVersion)},"k":${JSON.stringify(r.kind)},"p":${JSON.stringify(r.resource)},` +
        `"n":${JSON.stringify(r.namespace)},"m":${JSON.stringify(r.name)},"rv":${r.resourceVersion.toString()},` +
        `"s":${JSON.stringify(r.syncId)},"w":${JSON.stringify(objectWords(JSON.parse(r.objectJson)))},"o":${r.objectJson}}`,
    )
    .join(",")}]`;
  const written = await tx`
    insert into resources as t (cluster, uid, api_group, api_version, kind, resource, namespace, name,
      labels, annotations, owner_refs, resource_version, created_at, object, object_words, sync_id, indexed_at)
    select x.c, x.u, x.g, x.v, x.k, x.p, x.n, x.m,
      coalesce(x.o->'metadata'->'labels', '{}'::jsonb),
      coalesce(x.o->'metadata'->'annotations', '{}'::jsonb),
      coalesce(x.o->'metadata'->'ownerReferences', '[]'::jsonb),
      x.rv, (x.o->'metadata'->>'creationTimestamp')::timestamptz, x.o, x.w, x.s, now()
    from jsonb_to_recordset(${payload}::jsonb)
      as x(c text, u text, g text, v text, k text, p text, n text, m text, rv bigint, s text, w text[], o jsonb)
    where not exists (select 1 from resource_tombstones d where d.cluster = x.c and d.uid = x.u)
    on conflict (cluster, uid) do update set
      api_group = excluded.api_group, api_version = excluded.api_version, kind = excluded.kind,
      resource = excluded.resource, namespace = excluded.namespace, name = excluded.name,
      labels = excluded.labels, annotations = excluded.annotations, owner_refs = excluded.owner_refs,
      resource_version = excluded.resource_version, created_at = excluded.created_at,
      object = excluded.object, object_words = excluded.object_words, sync_id = excluded.sync_id,
      indexed_at = now()
    where t.resource_version < excluded.resource_version
       or (t.resource_version = excluded.resource_version and t.sync_id < excluded.sync_id)`;
  return written.count;
}

/** Forgets tombstones older than the bus can replay (the RESOURCES stream keeps 72 hours). */
export async function pruneTombstones(sql: postgres.Sql, olderThanHours = 96): Promise<number> {
  const pruned =
    await sql`delete from resource_tombstones where deleted_at < now() - make_interval(hours => ${olderThanHours})`;
  return pruned.count;
}
