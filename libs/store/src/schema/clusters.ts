import { sql } from "drizzle-orm";
import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export const clusters = pgTable("clusters", {
  name: text("name").primaryKey(),
  labels: jsonb("labels").$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
  provider: text("provider").notNull().default(""),
  region: text("region").notNull().default(""),
  zone: text("zone").notNull().default(""),
  syncMode: text("sync_mode").$type<"push" | "pull">().notNull().default("push"),
  taints: jsonb("taints").$type<Taint[]>().notNull().default(sql`'[]'::jsonb`),
  ready: boolean("ready").notNull().default(false),
  kubernetesVersion: text("kubernetes_version").notNull().default(""),
  /** The last heartbeat as JSON: node, capacity and per-resource sync summaries. */
  status: jsonb("status").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  lastHeartbeat: timestamp("last_heartbeat", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  /** Pull mode: the agent's public nkey; its seed exists only in the agent's credentials. */
  nkey: text("nkey").notNull().default(""),
  /** Push mode: the kubeconfig, sealed with the hub's secret key (never stored in plain form). */
  kubeconfigSealed: text("kubeconfig_sealed").notNull().default(""),
  kubeContext: text("kube_context").notNull().default(""),
  /** Sync rules as SyncRule JSON; empty means the built-in kinds. */
  syncRules: jsonb("sync_rules").$type<unknown[]>().notNull().default(sql`'[]'::jsonb`),
  /** False for clusters known only from heartbeats of agents nobody registered. */
  registered: boolean("registered").notNull().default(false),
  /** The gateway sends requests as the Atoll user (impersonation); off sends them as the credential. */
  gatewayImpersonate: boolean("gateway_impersonate").notNull().default(true),
  /** The gateway refuses every write to this cluster. */
  gatewayReadOnly: boolean("gateway_read_only").notNull().default(false),
});

/** Every write through the gateway, and every write it refused: who, where, what, and the answer. */
export const gatewayAudit = pgTable(
  "gateway_audit",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    user: text("user").notNull(),
    role: text("role").notNull(),
    cluster: text("cluster").notNull(),
    method: text("method").notNull(),
    verb: text("verb").notNull(),
    namespace: text("namespace").notNull().default(""),
    resource: text("resource").notNull().default(""),
    name: text("name").notNull().default(""),
    path: text("path").notNull(),
    code: integer("code").notNull(),
    requestId: text("request_id").notNull().default(""),
  },
  (t) => [index("gateway_audit_by_time").on(t.at), index("gateway_audit_by_cluster").on(t.cluster, t.at)],
);

/** Clusters deleted from the registry; their late events and heartbeats are dropped. */
export const clusterTombstones = pgTable("cluster_tombstones", {
  name: text("name").primaryKey(),
  deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull().defaultNow(),
});
