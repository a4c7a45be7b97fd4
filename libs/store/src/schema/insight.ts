import { sql } from "drizzle-orm";
import {
  doublePrecision,
  index,
  integer,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/** What the audit and diagnosis rules found, per object, with when it was first and last seen and resolved. */
export const issues = pgTable(
  "issues",
  {
    cluster: text("cluster").notNull(),
    uid: text("uid").notNull(),
    rule: text("rule").notNull(),
    /** The container a container-level finding is about; '' otherwise. */
    container: text("container").notNull().default(""),
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    /** info, low, medium, high or critical. */
    severity: text("severity").notNull(),
    /** Security, Reliability, Efficiency, or Runtime for diagnosis. */
    category: text("category").notNull(),
    message: text("message").notNull(),
    firstSeen: timestamp("first_seen", { withTimezone: true }).notNull().defaultNow(),
    lastSeen: timestamp("last_seen", { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.cluster, t.uid, t.rule, t.container] }),
    index("issues_open").on(t.cluster, t.namespace, t.severity).where(sql`resolved_at is null`),
    // Recording a batch looks up each object's open findings; without this the planner may walk
    // a whole cluster's open findings per object through issues_open while statistics are young.
    index("issues_open_by_object").on(t.cluster, t.uid).where(sql`resolved_at is null`),
  ],
);

/** Saved resource-group rules: a name and the keys objects are grouped by, e.g. label:app, label:env. */
export const groupRules = pgTable("group_rules", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  /** Group keys in order, each as /api/v1/insight/groups takes by=. */
  keys: text("keys").array().notNull(),
  createdBy: text("created_by").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Each indexed object's health score from its open findings (migration 0023's view, over the
 * health_score and severity_weight functions): 100 for an object with none.
 */
export const resourceHealth = pgView("resource_health", {
  cluster: text("cluster").notNull(),
  namespace: text("namespace").notNull(),
  kind: text("kind").notNull(),
  name: text("name").notNull(),
  uid: text("uid").notNull(),
  score: doublePrecision("score").notNull(),
  openIssues: integer("open_issues").notNull(),
}).existing();
