import type postgres from "postgres";

/** What the gateway needs of a cluster: how to reach it and what it allows. */
export interface GatewayClusterRecord {
  name: string;
  syncMode: "push" | "pull";
  /** Empty unless the hub holds the cluster's kubeconfig (push registration). */
  kubeconfigSealed: string;
  kubeContext: string;
  impersonate: boolean;
  readOnly: boolean;
}

export async function gatewayCluster(
  sql: postgres.Sql,
  name: string,
): Promise<GatewayClusterRecord | undefined> {
  const [row] = await sql<GatewayClusterRecord[]>`
    select name, sync_mode as "syncMode", kubeconfig_sealed as "kubeconfigSealed", kube_context as "kubeContext",
      gateway_impersonate as impersonate, gateway_read_only as "readOnly"
    from clusters where name = ${name}`;
  return row;
}

export interface GatewayAuditRecord {
  user: string;
  role: string;
  cluster: string;
  method: string;
  verb: string;
  namespace: string;
  resource: string;
  name: string;
  path: string;
  code: number;
  requestId: string;
}

export async function recordGatewayWrite(sql: postgres.Sql, entry: GatewayAuditRecord): Promise<void> {
  await sql`
    insert into gateway_audit ("user", role, cluster, method, verb, namespace, resource, name, path, code, request_id)
    values (${entry.user}, ${entry.role}, ${entry.cluster}, ${entry.method}, ${entry.verb}, ${entry.namespace},
      ${entry.resource}, ${entry.name}, ${entry.path}, ${entry.code}, ${entry.requestId})`;
}

export interface GatewayAuditFilter {
  user?: string;
  cluster?: string;
  verb?: string;
  namespace?: string;
  resource?: string;
  /** Only refused (code >= 400) or only successful writes. */
  outcome?: "failed" | "succeeded";
  since?: Date;
  until?: Date;
  /** Entries older than this id: the previous page's continue token. */
  beforeId?: number;
  limit: number;
}

/** Audit entries, newest first, one page at a time. */
export async function searchGatewayAudit(
  sql: postgres.Sql,
  filter: GatewayAuditFilter,
): Promise<(GatewayAuditRecord & { id: number; at: Date })[]> {
  const where = [
    filter.user === undefined ? sql`true` : sql`"user" = ${filter.user}`,
    filter.cluster === undefined ? sql`true` : sql`cluster = ${filter.cluster}`,
    filter.verb === undefined ? sql`true` : sql`verb = ${filter.verb}`,
    filter.namespace === undefined ? sql`true` : sql`namespace = ${filter.namespace}`,
    filter.resource === undefined ? sql`true` : sql`resource = ${filter.resource}`,
    filter.outcome === undefined
      ? sql`true`
      : filter.outcome === "failed"
        ? sql`code >= 400`
        : sql`code < 400`,
    filter.since === undefined ? sql`true` : sql`at >= ${filter.since}`,
    filter.until === undefined ? sql`true` : sql`at < ${filter.until}`,
    filter.beforeId === undefined ? sql`true` : sql`id < ${filter.beforeId}`,
  ].reduce((all, part) => sql`${all} and ${part}`);
  return await sql<(GatewayAuditRecord & { id: number; at: Date })[]>`
    select id::int as id, at, "user", role, cluster, method, verb, namespace, resource, name, path, code,
      request_id as "requestId"
    from gateway_audit where ${where} order by id desc limit ${filter.limit}`;
}
