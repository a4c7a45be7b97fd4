import { sql } from "drizzle-orm";
import { boolean, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

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
});

/** Clusters deleted from the registry; their late events and heartbeats are dropped. */
export const clusterTombstones = pgTable("cluster_tombstones", {
  name: text("name").primaryKey(),
  deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull().defaultNow(),
});
