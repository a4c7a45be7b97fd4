import type postgres from "postgres";

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
  | { op: "delete"; cluster: string; uid: string }
  /** Removes rows of (cluster, group, resource[, namespace]) that the full list syncId did not contain. */
  | { op: "sweep"; cluster: string; apiGroup: string; resource: string; namespace?: string; syncId: string };

export interface ApplyResult {
  upserted: number;
  deleted: number;
  swept: number;
}

/**
 * Applies index operations in one transaction, in order. Between sweeps, only the last operation
 * per (cluster, uid) matters, so each segment collapses to one upsert and one delete statement.
 * An older resourceVersion never overwrites a newer one.
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
      result.upserted += await upsertRows(tx, upserts);
    };
    for (const op of ops) {
      if (op.op === "sweep") {
        await flush();
        const swept = await tx`
          delete from resources
          where cluster = ${op.cluster} and api_group = ${op.apiGroup} and resource = ${op.resource}
            and sync_id <> ${op.syncId} ${op.namespace === undefined ? tx`` : tx`and namespace = ${op.namespace}`}`;
        result.swept += swept.count;
        continue;
      }
      const key =
        op.op === "upsert" ? `${op.row.cluster}\u0000${op.row.uid}` : `${op.cluster}\u0000${op.uid}`;
      pending.delete(key); // re-insert so the map keeps the latest position
      pending.set(key, op);
    }
    await flush();
  });
  return result;
}

async function deleteRows(
  tx: postgres.TransactionSql,
  rows: { cluster: string; uid: string }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const deleted = await tx`
    delete from resources r
    using unnest(${rows.map((r) => r.cluster)}::text[], ${rows.map((r) => r.uid)}::text[]) as d(cluster, uid)
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
        `"s":${JSON.stringify(r.syncId)},"o":${r.objectJson}}`,
    )
    .join(",")}]`;
  const written = await tx`
    insert into resources as t (cluster, uid, api_group, api_version, kind, resource, namespace, name,
      labels, annotations, owner_refs, resource_version, created_at, object, sync_id, indexed_at)
    select x.c, x.u, x.g, x.v, x.k, x.p, x.n, x.m,
      coalesce(x.o->'metadata'->'labels', '{}'::jsonb),
      coalesce(x.o->'metadata'->'annotations', '{}'::jsonb),
      coalesce(x.o->'metadata'->'ownerReferences', '[]'::jsonb),
      x.rv, (x.o->'metadata'->>'creationTimestamp')::timestamptz, x.o, x.s, now()
    from jsonb_to_recordset(${payload}::jsonb)
      as x(c text, u text, g text, v text, k text, p text, n text, m text, rv bigint, s text, o jsonb)
    on conflict (cluster, uid) do update set
      api_group = excluded.api_group, api_version = excluded.api_version, kind = excluded.kind,
      resource = excluded.resource, namespace = excluded.namespace, name = excluded.name,
      labels = excluded.labels, annotations = excluded.annotations, owner_refs = excluded.owner_refs,
      resource_version = excluded.resource_version, created_at = excluded.created_at,
      object = excluded.object, sync_id = excluded.sync_id, indexed_at = now()
    where t.resource_version < excluded.resource_version
       or (t.resource_version = excluded.resource_version and t.sync_id <> excluded.sync_id)`;
  return written.count;
}
