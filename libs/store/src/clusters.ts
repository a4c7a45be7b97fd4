import type postgres from "postgres";

export interface ClusterHeartbeatRow {
  name: string;
  syncMode: "push" | "pull";
  ready: boolean;
  kubernetesVersion: string;
  status: Record<string, unknown>;
  lastHeartbeat: Date;
}

/**
 * Records a heartbeat, registering the cluster on first sight; newer heartbeats only. Times go
 * in as ISO strings: drizzle replaces the shared client's timestamp serialisers.
 */
export async function recordHeartbeat(sql: postgres.Sql, row: ClusterHeartbeatRow): Promise<void> {
  await recordHeartbeats(sql, [row]);
}

/**
 * Records the latest heartbeat of several clusters in two statements, however many there are:
 * a fleet of thousands beats hundreds of times a second, more than one statement each keeps up
 * with. An older heartbeat than the one recorded changes nothing.
 */
export async function recordHeartbeats(sql: postgres.Sql, rows: ClusterHeartbeatRow[]): Promise<void> {
  if (rows.length === 0) return;
  // One row per cluster, its latest: an update joined to two rows of one cluster picks either.
  const latest = new Map<string, ClusterHeartbeatRow>();
  for (const row of rows) {
    const seen = latest.get(row.name);
    if (!seen || seen.lastHeartbeat <= row.lastHeartbeat) latest.set(row.name, row);
  }
  const beats = JSON.stringify(
    [...latest.values()].map((row) => ({
      name: row.name,
      sync_mode: row.syncMode,
      ready: row.ready,
      kubernetes_version: row.kubernetesVersion,
      status: row.status,
      last_heartbeat: row.lastHeartbeat.toISOString(),
    })),
  );
  const heartbeats = sql`jsonb_to_recordset(${beats}::jsonb) as h(name text, sync_mode text, ready boolean,
    kubernetes_version text, status jsonb, last_heartbeat timestamptz)`;
  // Update first, insert only where there was no row: an update racing a deletion waits for it
  // and then finds nothing, and the insert's fresh snapshot sees the tombstone. One upsert would
  // decide on the tombstone before the deletion commits, and bring the cluster back.
  const updated = await sql<{ name: string }[]>`
    update clusters c set ready = h.ready, kubernetes_version = h.kubernetes_version, status = h.status,
      last_heartbeat = h.last_heartbeat
    from ${heartbeats}
    where c.name = h.name and (c.last_heartbeat is null or c.last_heartbeat <= h.last_heartbeat)
    returning c.name`;
  if (updated.length === latest.size) return;
  const done = updated.map((row) => row.name);
  await sql`
    insert into clusters (name, sync_mode, ready, kubernetes_version, status, last_heartbeat)
    select h.name, h.sync_mode, h.ready, h.kubernetes_version, h.status, h.last_heartbeat from ${heartbeats}
    where h.name <> all(${done}::text[])
      and not exists (select 1 from cluster_tombstones t where t.name = h.name)
    order by h.name
    on conflict (name) do nothing`;
}

export interface ClusterView {
  name: string;
  labels: Record<string, string>;
  provider: string;
  region: string;
  zone: string;
  syncMode: string;
  /** False for a cluster known only from an unregistered agent's heartbeats. */
  registered: boolean;
  taints: unknown[];
  /** Pull mode: the agent's public nkey (public keys are not secret). */
  nkey: string;
  ready: boolean;
  /** Heard from within the staleness window. */
  online: boolean;
  kubernetesVersion: string;
  lastHeartbeat: string | null;
  objects: number;
  status: Record<string, unknown>;
  /** The live gateway refuses writes to the cluster. */
  gatewayReadOnly: boolean;
  /** The live gateway acts as the Atoll caller in the cluster. */
  gatewayImpersonate: boolean;
}

/** Whether a cluster was heard from within the staleness window, as a select-list column. */
const onlineColumn = (sql: postgres.Sql, staleAfterSeconds: number) =>
  sql`coalesce(last_heartbeat > now() - make_interval(secs => ${staleAfterSeconds}), false) as online`;

/** A heartbeat time as JSON carries it. */
const withIsoHeartbeat = <Row extends { lastHeartbeat: string | null }>(row: Row): Row => ({
  ...row,
  lastHeartbeat: row.lastHeartbeat ? new Date(row.lastHeartbeat).toISOString() : null,
});

export async function listClusters(sql: postgres.Sql, staleAfterSeconds: number): Promise<ClusterView[]> {
  const rows = await sql<ClusterView[]>`
    select c.name, c.labels, c.provider, c.region, c.zone, c.sync_mode as "syncMode", c.registered, c.taints, c.nkey, c.ready,
      ${onlineColumn(sql, staleAfterSeconds)},
      c.kubernetes_version as "kubernetesVersion", c.last_heartbeat as "lastHeartbeat", c.status,
      c.gateway_read_only as "gatewayReadOnly", c.gateway_impersonate as "gatewayImpersonate",
      (select count(*) from resources r where r.cluster = c.name)::int as objects
    from clusters c order by c.name`;
  return rows.map(withIsoHeartbeat);
}

export interface ClusterReachability {
  name: string;
  /** Heard from within the staleness window. */
  online: boolean;
  /** The agent's last heartbeat said its API server answers. */
  ready: boolean;
  lastHeartbeat: string | null;
}

/** Whether each named cluster is heard from and ready; cheaper than listClusters, which counts objects. */
export async function clusterReachability(
  sql: postgres.Sql,
  names: string[],
  staleAfterSeconds: number,
): Promise<ClusterReachability[]> {
  if (names.length === 0) return [];
  const rows = await sql<ClusterReachability[]>`
    select name, ready, ${onlineColumn(sql, staleAfterSeconds)}, last_heartbeat as "lastHeartbeat"
    from clusters where name = any(${names}::text[])`;
  return rows.map(withIsoHeartbeat);
}

/** A cluster's properties as its registration sets them: what placement filters on. */
export interface ClusterRegistryRow {
  name: string;
  labels: Record<string, string>;
  provider: string;
  region: string;
  zone: string;
  taints: unknown[];
}

/**
 * The registry alone, for the scheduler: no heartbeat fields (it reads liveness from the bus) and
 * no object counts (it reads this every few seconds).
 */
export async function listClusterRegistry(sql: postgres.Sql): Promise<ClusterRegistryRow[]> {
  return await sql<ClusterRegistryRow[]>`
    select name, labels, provider, region, zone, taints from clusters order by name`;
}

/** Replaces a cluster's taints only if they are still what the caller read (no lost update). */
export async function replaceClusterTaints(
  sql: postgres.Sql,
  name: string,
  before: unknown[],
  after: unknown[],
): Promise<boolean> {
  const result = await sql`update clusters set taints = ${JSON.stringify(after)}::jsonb
    where name = ${name} and taints = ${JSON.stringify(before)}::jsonb`;
  return result.count > 0;
}
