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
  /**
   * resourceVersion is the deletion's, when known; syncId is the list the agent's reflector had
   * last completed when it saw the deletion. Together they order the deletion among upserts.
   */
  | { op: "delete"; cluster: string; uid: string; resourceVersion?: bigint; syncId: string }
  /**
   * Removes rows of a scope that the full list syncId did not contain: (cluster, group,
   * resource[, namespace]) after one reflector's list, or, without group and resource, the
   * whole cluster once every reflector of an agent run (whose epoch syncId is) has listed.
   */
  | {
      op: "sweep";
      cluster: string;
      apiGroup?: string;
      resource?: string;
      namespace?: string;
      syncId: string;
    };

/** Rows per upsert statement: large enough to amortise round trips, small enough to plan fast. */
const UPSERT_CHUNK = 1000;

export interface ApplyResult {
  upserted: number;
  deleted: number;
  swept: number;
}

/**
 * Index operations as they will be written: between sweeps, only the last operation per
 * (cluster, uid) matters, so each segment collapses to one delete statement and the upserts' JSON
 * payloads, built here. Pure, so a consumer makes the plan of its next batch while the last one
 * is written.
 */
export type IndexPlan = (
  | { deletes: Extract<IndexOp, { op: "delete" }>[]; upserts: string[]; rows: number }
  | Extract<IndexOp, { op: "sweep" }>
)[];

/**
 * Plans index operations (see applyIndexPlan). `parsed` holds objects the caller has parsed
 * already, by their upsert operation, so that no object is parsed twice; `pause` is awaited
 * after each statement's payload, so work running alongside gets the event loop.
 */
export async function planIndexOps(
  ops: readonly IndexOp[],
  parsed?: ReadonlyMap<IndexOp, Record<string, unknown>>,
  pause?: () => Promise<unknown>,
): Promise<IndexPlan> {
  const plan: IndexPlan = [];
  let pending = new Map<string, IndexOp>();
  const segment = async () => {
    if (pending.size === 0) return;
    const upserts: Extract<IndexOp, { op: "upsert" }>[] = [];
    const deletes: Extract<IndexOp, { op: "delete" }>[] = [];
    for (const op of pending.values()) {
      if (op.op === "upsert") upserts.push(op);
      else if (op.op === "delete") deletes.push(op);
    }
    pending = new Map();
    const payloads: string[] = [];
    for (let i = 0; i < upserts.length; i += UPSERT_CHUNK) {
      payloads.push(upsertPayload(upserts.slice(i, i + UPSERT_CHUNK), parsed));
      await pause?.();
    }
    plan.push({ deletes, upserts: payloads, rows: upserts.length });
  };
  for (const op of ops) {
    if (op.op === "sweep") {
      await segment();
      plan.push(op);
      continue;
    }
    const key = objectKey(op);
    const kept = pending.get(key);
    if (!kept || supersedes(op, kept)) pending.set(key, op);
  }
  await segment();
  return plan;
}

/**
 * Applies index operations in one transaction, in order (see planIndexOps).
 *
 * Every operation is safe to replay out of order, as a redelivery after a crash or a lost ack
 * would. Operations on one object are ordered by (syncId, resourceVersion), a deletion winning a
 * tie: a deletion leaves a tombstone at its place in that order, and an upsert at or before it is
 * stale. A full list is the truth about a cluster, so an object a newer list contains comes back
 * whatever tombstone a forged or replayed deletion left; and sync ids grow with time, so a
 * replayed sweep only removes rows older than its own list.
 */
export async function applyIndexOps(sql: postgres.Sql, ops: readonly IndexOp[]): Promise<ApplyResult> {
  return applyIndexPlan(sql, await planIndexOps(ops));
}

/** Writes a plan in one transaction, in order. */
export async function applyIndexPlan(sql: postgres.Sql, plan: IndexPlan): Promise<ApplyResult> {
  const result: ApplyResult = { upserted: 0, deleted: 0, swept: 0 };
  await sql.begin(async (tx) => {
    for (const step of plan) {
      if ("op" in step) {
        result.swept += await sweep(tx, step);
        continue;
      }
      result.deleted += await deleteRows(tx, step.deletes);
      for (const payload of step.upserts) result.upserted += await upsertRows(tx, payload);
    }
  });
  return result;
}

/** The object an operation is about, (cluster, uid), as one map key. */
function objectKey(op: Exclude<IndexOp, { op: "sweep" }>): string {
  return op.op === "upsert" ? `${op.row.cluster}\u0000${op.row.uid}` : `${op.cluster}\u0000${op.uid}`;
}

/** Where an operation on an object stands in the order its operations are applied in. */
function placeOf(op: Exclude<IndexOp, { op: "sweep" }>): [string, bigint, number] {
  return op.op === "upsert"
    ? [op.row.syncId, op.row.resourceVersion, 0]
    : [op.syncId, op.resourceVersion ?? 0n, 1];
}

/**
 * Which of two operations on one object stands, by the same rule the database applies. Arrival
 * order is not trusted, because a redelivered message can arrive after its successors.
 */
function supersedes(candidate: IndexOp, kept: IndexOp): boolean {
  if (candidate.op === "sweep" || kept.op === "sweep") return false;
  const [aSync, aVersion, aDelete] = placeOf(candidate);
  const [bSync, bVersion, bDelete] = placeOf(kept);
  if (aSync !== bSync) return aSync > bSync;
  if (aVersion !== bVersion) return aVersion > bVersion;
  return aDelete > bDelete;
}

async function sweep(tx: postgres.TransactionSql, op: Extract<IndexOp, { op: "sweep" }>): Promise<number> {
  // What a sweep removes is gone from the cluster: tombstone it at the sweeping list and resolve
  // its open findings, by key, in the same statement.
  const [swept] = await tx<{ n: number }[]>`
    with gone as (
      delete from resources
      where cluster = ${op.cluster} and sync_id < ${op.syncId}
        ${op.apiGroup === undefined ? tx`` : tx`and api_group = ${op.apiGroup}`}
        ${op.resource === undefined ? tx`` : tx`and resource = ${op.resource}`}
        ${op.namespace === undefined ? tx`` : tx`and namespace = ${op.namespace}`}
      returning cluster, uid, resource_version
    ),
    tombstoned as (
      insert into resource_tombstones as t (cluster, uid, resource_version, sync_id)
      select cluster, uid, resource_version, ${op.syncId} from gone
      on conflict (cluster, uid) do update
        set resource_version = excluded.resource_version, sync_id = excluded.sync_id, deleted_at = now(),
          revision = nextval('resource_revisions')
        where (t.sync_id, t.resource_version) < (excluded.sync_id, excluded.resource_version)
    ),
    resolved as (
      -- The cluster named outright, not only through gone: without fresh statistics the planner
      -- read every open finding of the fleet and sorted them for each sweep (446,000 at 5,000
      -- clusters); named, it reads this cluster's alone.
      update issues i set resolved_at = now() from gone
      where i.cluster = ${op.cluster} and i.uid = gone.uid and i.resolved_at is null
    )
    select count(*)::int as n from gone`;
  return swept?.n ?? 0;
}

async function deleteRows(
  tx: postgres.TransactionSql,
  rows: Extract<IndexOp, { op: "delete" }>[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const clusters = rows.map((r) => r.cluster);
  const uids = rows.map((r) => r.uid);
  const versions = rows.map((r) => (r.resourceVersion ?? 0n).toString());
  const syncIds = rows.map((r) => r.syncId);
  await tx`
    insert into resource_tombstones as t (cluster, uid, resource_version, sync_id)
    select * from unnest(${clusters}::text[], ${uids}::text[], ${versions}::bigint[], ${syncIds}::text[])
    on conflict (cluster, uid) do update
      set resource_version = excluded.resource_version, sync_id = excluded.sync_id, deleted_at = now(),
        revision = nextval('resource_revisions')
      where (t.sync_id, t.resource_version) < (excluded.sync_id, excluded.resource_version)`;
  // A deletion older than the row (a replay, or one a newer list has outvoted) leaves the row.
  const deleted = await tx`
    delete from resources r
    using unnest(${clusters}::text[], ${uids}::text[], ${versions}::bigint[], ${syncIds}::text[])
      as d(cluster, uid, resource_version, sync_id)
    where r.cluster = d.cluster and r.uid = d.uid
      and (r.sync_id, r.resource_version) <= (d.sync_id, d.resource_version)`;
  return deleted.count;
}

/** Rows as one JSON array, objects spliced in as the agent sent them; parsed only for their words. */
function upsertPayload(
  upserts: Extract<IndexOp, { op: "upsert" }>[],
  parsed?: ReadonlyMap<IndexOp, Record<string, unknown>>,
): string {
  return `[${upserts
    .map(({ row: r }, i) => {
      const object = parsed?.get(upserts[i]!) ?? JSON.parse(r.objectJson);
      return (
        `{"c":${JSON.stringify(r.cluster)},"u":${JSON.stringify(r.uid)},"g":${JSON.stringify(r.apiGroup)},` +
        `"v":${JSON.stringify(r.apiVersion)},"k":${JSON.stringify(r.kind)},"p":${JSON.stringify(r.resource)},` +
        `"n":${JSON.stringify(r.namespace)},"m":${JSON.stringify(r.name)},"rv":${r.resourceVersion.toString()},` +
        `"s":${JSON.stringify(r.syncId)},"w":${JSON.stringify(objectWords(object))},"o":${r.objectJson}}`
      );
    })
    .join(",")}]`;
}

async function upsertRows(tx: postgres.TransactionSql, payload: string): Promise<number> {
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
    where not exists (
      select 1 from resource_tombstones d
      where d.cluster = x.c and d.uid = x.u and (d.sync_id, d.resource_version) >= (x.s, x.rv))
    on conflict (cluster, uid) do update set
      api_group = excluded.api_group, api_version = excluded.api_version, kind = excluded.kind,
      resource = excluded.resource, namespace = excluded.namespace, name = excluded.name,
      labels = excluded.labels, annotations = excluded.annotations, owner_refs = excluded.owner_refs,
      resource_version = excluded.resource_version, created_at = excluded.created_at,
      object = excluded.object, object_words = excluded.object_words, sync_id = excluded.sync_id,
      indexed_at = now(), revision = nextval('resource_revisions')
    where (t.sync_id, t.resource_version) < (excluded.sync_id, excluded.resource_version)`;
  return written.count;
}

/** An operation as Postgres settled it, numbered by the revision Postgres gave it: what a mirror writes. */
export type SettledOp =
  | { op: "upsert"; row: ObjectRow; revision: bigint }
  | { op: "delete"; cluster: string; uid: string; revision: bigint }
  | Extract<IndexOp, { op: "sweep" }>;

/**
 * After applyIndexOps committed a batch, what each object it touched now is in Postgres: the
 * batch's upsert that stands (with the row's revision), or a deletion (with the tombstone's),
 * in the batch's order and once per object. An object a newer write has since changed is left
 * out; that write reports it. A redelivered batch settles again to the same answer, so a mirror
 * that missed it (a crash before its write) catches up, and one that did not writes it again.
 */
export async function settledOps(sql: postgres.Sql, ops: readonly IndexOp[]): Promise<SettledOp[]> {
  // Each object's last operation in the batch is where its settled write goes.
  const last = new Map<string, { index: number; cluster: string; uid: string }>();
  const upserts = new Map<string, ObjectRow[]>();
  for (const [index, op] of ops.entries()) {
    if (op.op === "sweep") continue;
    const key = objectKey(op);
    const [cluster, uid] = op.op === "upsert" ? [op.row.cluster, op.row.uid] : [op.cluster, op.uid];
    last.set(key, { index, cluster, uid });
    if (op.op === "upsert") upserts.set(key, [...(upserts.get(key) ?? []), op.row]);
  }
  const objects = [...last.values()];
  type State = { rv: string | null; sync_id: string | null; row: string | null; gone: string | null };
  const states = new Map<string, State>();
  if (objects.length > 0) {
    const found = await sql<(State & { cluster: string; uid: string })[]>`
      select k.cluster, k.uid, r.resource_version::text as rv, r.sync_id, r.revision::text as row,
        t.revision::text as gone
      from unnest(${objects.map((o) => o.cluster)}::text[], ${objects.map((o) => o.uid)}::text[]) as k(cluster, uid)
      left join resources r on r.cluster = k.cluster and r.uid = k.uid
      left join resource_tombstones t on t.cluster = k.cluster and t.uid = k.uid`;
    for (const state of found) states.set(`${state.cluster}\u0000${state.uid}`, state);
  }
  const settled: SettledOp[] = [];
  for (const [index, op] of ops.entries()) {
    if (op.op === "sweep") {
      settled.push(op);
      continue;
    }
    const key = objectKey(op);
    const object = last.get(key)!;
    if (object.index !== index) continue;
    const state = states.get(key);
    if (state?.row != null) {
      // The row stands as one of this batch's upserts wrote it, or a later write owns it.
      const standing = upserts
        .get(key)
        ?.find((row) => row.resourceVersion.toString() === state.rv && row.syncId === state.sync_id);
      if (standing) settled.push({ op: "upsert", row: standing, revision: BigInt(state.row) });
    } else if (state?.gone != null) {
      settled.push({ op: "delete", cluster: object.cluster, uid: object.uid, revision: BigInt(state.gone) });
    }
  }
  return settled;
}

/** Forgets tombstones older than the bus can replay (the RESOURCES stream keeps 72 hours). */
export async function pruneTombstones(sql: postgres.Sql, olderThanHours = 96): Promise<number> {
  const pruned =
    await sql`delete from resource_tombstones where deleted_at < now() - make_interval(hours => ${olderThanHours})`;
  return pruned.count;
}
