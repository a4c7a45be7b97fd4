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
  const status = JSON.stringify(row.status);
  const at = row.lastHeartbeat.toISOString();
  // Update first, insert only if there was no row: an update racing a deletion waits for it and
  // then finds nothing, and the insert's fresh snapshot sees the tombstone. One upsert would
  // decide on the tombstone before the deletion commits, and bring the cluster back.
  const updated = await sql`
    update clusters set ready = ${row.ready}, kubernetes_version = ${row.kubernetesVersion},
      status = ${status}::jsonb, last_heartbeat = ${at}
    where name = ${row.name} and (last_heartbeat is null or last_heartbeat <= ${at})`;
  if (updated.count > 0) return;
  await sql`
    insert into clusters (name, sync_mode, ready, kubernetes_version, status, last_heartbeat)
    select ${row.name}, ${row.syncMode}, ${row.ready}, ${row.kubernetesVersion}, ${status}::jsonb, ${at}
    where not exists (select 1 from cluster_tombstones where name = ${row.name})
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
