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
});
