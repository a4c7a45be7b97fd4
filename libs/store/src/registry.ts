import type postgres from "postgres";

export interface ClusterRegistration {
  name: string;
  syncMode: "push" | "pull";
  labels?: Record<string, string>;
  provider?: string;
  region?: string;
  zone?: string;
  taints?: unknown[];
  nkey?: string;
  kubeconfigSealed?: string;
  kubeContext?: string;
  syncRules?: unknown[];
  gatewayImpersonate?: boolean;
  gatewayReadOnly?: boolean;
}

export type ClusterUpdate = Partial<
  Pick<
    ClusterRegistration,
    | "labels"
    | "provider"
    | "region"
    | "zone"
    | "taints"
    | "syncRules"
    | "gatewayImpersonate"
    | "gatewayReadOnly"
  >
>;

export class RegistryError extends Error {
  constructor(
    readonly code: "CLUSTER_EXISTS" | "CLUSTER_NOT_FOUND",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Registers a cluster. A cluster seen only through heartbeats (an agent nobody registered) can
 * be registered in place; a registered one cannot be registered twice.
 */
export async function registerCluster(sql: postgres.Sql, r: ClusterRegistration): Promise<void> {
  await sql.begin(async (tx) => {
    const [existing] = await tx`select registered from clusters where name = ${r.name} for update`;
    if (existing?.registered) {
      throw new RegistryError(
        "CLUSTER_EXISTS",
        `cluster "${r.name}" is already registered; update it, or delete it first`,
      );
    }
    await tx`delete from cluster_tombstones where name = ${r.name}`;
    await tx`
      insert into clusters (name, sync_mode, labels, provider, region, zone, taints, nkey, kubeconfig_sealed, kube_context,
        sync_rules, gateway_impersonate, gateway_read_only, registered)
      values (${r.name}, ${r.syncMode}, ${JSON.stringify(r.labels ?? {})}::jsonb, ${r.provider ?? ""}, ${r.region ?? ""},
        ${r.zone ?? ""}, ${JSON.stringify(r.taints ?? [])}::jsonb, ${r.nkey ?? ""}, ${r.kubeconfigSealed ?? ""},
        ${r.kubeContext ?? ""}, ${JSON.stringify(r.syncRules ?? [])}::jsonb, ${r.gatewayImpersonate ?? true},
        ${r.gatewayReadOnly ?? false}, true)
      on conflict (name) do update set sync_mode = excluded.sync_mode, labels = excluded.labels,
        provider = excluded.provider, region = excluded.region, zone = excluded.zone, taints = excluded.taints,
        nkey = excluded.nkey, kubeconfig_sealed = excluded.kubeconfig_sealed, kube_context = excluded.kube_context,
        sync_rules = excluded.sync_rules, gateway_impersonate = excluded.gateway_impersonate,
        gateway_read_only = excluded.gateway_read_only, registered = true`;
  });
}

export async function updateCluster(sql: postgres.Sql, name: string, update: ClusterUpdate): Promise<void> {
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  const result = await sql`
    update clusters set
      labels = coalesce(${json(update.labels)}::jsonb, labels),
      provider = coalesce(${update.provider ?? null}, provider),
      region = coalesce(${update.region ?? null}, region),
      zone = coalesce(${update.zone ?? null}, zone),
      taints = coalesce(${json(update.taints)}::jsonb, taints),
      sync_rules = coalesce(${json(update.syncRules)}::jsonb, sync_rules),
      gateway_impersonate = coalesce(${update.gatewayImpersonate ?? null}::boolean, gateway_impersonate),
      gateway_read_only = coalesce(${update.gatewayReadOnly ?? null}::boolean, gateway_read_only)
    where name = ${name}`;
  if (result.count === 0)
    throw new RegistryError("CLUSTER_NOT_FOUND", `no cluster "${name}"; list them with GET /api/v1/clusters`);
}

/** Removes a cluster and every row indexed from it; later events from it are dropped. */
export async function deleteCluster(sql: postgres.Sql, name: string): Promise<{ purged: number }> {
  return await sql.begin(async (tx) => {
    const deleted = await tx`delete from clusters where name = ${name}`;
    if (deleted.count === 0)
      throw new RegistryError(
        "CLUSTER_NOT_FOUND",
        `no cluster "${name}"; list them with GET /api/v1/clusters`,
      );
    await tx`insert into cluster_tombstones (name) values (${name}) on conflict (name) do update set deleted_at = now()`;
    const purged = await tx`delete from resources where cluster = ${name}`;
    return { purged: purged.count };
  });
}

export interface PushClusterRecord {
  name: string;
  kubeconfigSealed: string;
  kubeContext: string;
  syncRules: unknown[];
}

export async function listPushClusters(sql: postgres.Sql): Promise<PushClusterRecord[]> {
  return await sql<PushClusterRecord[]>`
    select name, kubeconfig_sealed as "kubeconfigSealed", kube_context as "kubeContext", sync_rules as "syncRules"
    from clusters where registered and sync_mode = 'push' and kubeconfig_sealed <> '' order by name`;
}

/** The registered cluster's sync rules, or undefined if it is not registered. */
export async function getSyncRules(sql: postgres.Sql, name: string): Promise<unknown[] | undefined> {
  const [row] = await sql`select sync_rules from clusters where name = ${name} and registered`;
  return row ? (row.sync_rules as unknown[]) : undefined;
}

export async function deletedClusters(sql: postgres.Sql): Promise<Set<string>> {
  return new Set((await sql`select name from cluster_tombstones`).map((r) => r.name as string));
}

export async function pullIdentities(sql: postgres.Sql): Promise<{ name: string; nkey: string }[]> {
  return await sql<{ name: string; nkey: string }[]>`
    select name, nkey from clusters where registered and sync_mode = 'pull' and nkey <> '' order by name`;
}
