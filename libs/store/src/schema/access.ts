import { sql } from "drizzle-orm";
import { boolean, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** What a role may do: verbs over a set of clusters, namespaces and kinds; "*" means any. */
export interface GrantRecord {
  verbs: string[];
  clusters: string[];
  namespaces: string[];
  kinds: string[];
}

export const roles = pgTable("roles", {
  name: text("name").primaryKey(),
  grants: jsonb("grants").$type<GrantRecord[]>().notNull().default(sql`'[]'::jsonb`),
  /** admin and viewer ship with Atoll and cannot be changed or deleted. */
  builtin: boolean("builtin").notNull().default(false),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Bearer tokens: only a SHA-256 of the secret is kept; the secret is shown once, at creation. */
export const apiTokens = pgTable("api_tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  role: text("role")
    .notNull()
    .references(() => roles.name),
  secretHash: text("secret_hash").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp("expires_at", { withTimezone: true }),
  revokedAt: timestamp("revoked_at", { withTimezone: true }),
});
