import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/**
 * Work generations come from one sequence for the whole hub, so a cluster's agent never sees a
 * generation go backwards: not when a template is deleted and applied again, nor across bindings.
 */
export const workGenerations = pgSequence("work_generations");

/**
 * Each change that asks for a template to be placed again (the template changed, or a policy
 * did) takes a number from here, which the scheduler records once it has placed from it.
 */
export const placementRequests = pgSequence("placement_requests");

/** Karmada policies as applied: Propagation and Override, namespaced ('' namespace) or cluster-wide. */
export const placementPolicies = pgTable(
  "placement_policies",
  {
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    document: jsonb("document").$type<Record<string, unknown>>().notNull(),
    generation: bigint("generation", { mode: "number" }).notNull().default(1),
    /** Who applied it and the clusters their write grants reached then (["*"]: every cluster). */
    authority: jsonb("authority")
      .$type<{ appliedBy: string; clusters: string[] }>()
      .notNull()
      .default(sql`'{"appliedBy": "", "clusters": ["*"]}'::jsonb`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.namespace, t.name] })],
);

/** Resource templates: the objects users want placed, as applied. */
export const templates = pgTable(
  "templates",
  {
    apiVersion: text("api_version").notNull(),
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    uid: text("uid").notNull().default(sql`gen_random_uuid()::text`),
    document: jsonb("document").$type<Record<string, unknown>>().notNull(),
    generation: bigint("generation", { mode: "number" }).notNull().default(1),
    /** The policy that claimed it ("Kind/namespace/name"); a claimed template keeps its policy. */
    claimedBy: text("claimed_by").notNull().default(""),
    /** Who applied it and the clusters their write grants reached then (["*"]: every cluster). */
    authority: jsonb("authority")
      .$type<{ appliedBy: string; clusters: string[] }>()
      .notNull()
      .default(sql`'{"appliedBy": "", "clusters": ["*"]}'::jsonb`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /**
     * The last request to place it, written with the change that asked for it, and the request
     * the scheduler last placed from. They differ while a placement is owed: a request lost on
     * the way (its writer died between commit and publish) is found here and made again.
     */
    placementSeq: bigint("placement_seq", { mode: "number" })
      .notNull()
      .default(sql`nextval('placement_requests')`),
    placementRequestedAt: timestamp("placement_requested_at", { withTimezone: true }).notNull().defaultNow(),
    placedSeq: bigint("placed_seq", { mode: "number" }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.apiVersion, t.kind, t.namespace, t.name] }),
    index("templates_unplaced").on(t.placementRequestedAt).where(sql`${t.placedSeq} <> ${t.placementSeq}`),
  ],
);

/** Where each template goes and why, with status aggregated from the clusters. */
export const bindings = pgTable(
  "bindings",
  {
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    apiVersion: text("api_version").notNull(),
    kind: text("kind").notNull(),
    templateName: text("template_name").notNull(),
    uid: text("uid").notNull(),
    policy: text("policy").notNull().default(""),
    /** [{name, replicas?}]: the decision. */
    clusters: jsonb("clusters")
      .$type<{ name: string; replicas?: number }[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    observedAffinity: text("observed_affinity").notNull().default(""),
    /**
     * Why clusters were not chosen: reason → the clusters it rejected, as a list or, for a long
     * one, {"set": a cluster_sets id, "less": [clusters of the set it did not reject]}.
     */
    rejected: jsonb("rejected").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /**
     * How many clusters each reason rejected, [{reason, count}] in reason order: what the index's
     * ResourceBinding shows, written with the binding rather than counted from it per row.
     */
    rejectionCounts: jsonb("rejection_counts")
      .$type<{ reason: string; count: number }[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** Success, NoClusterFit, Unschedulable, SchedulerError, NoPolicy. */
    condition: text("condition").notNull().default(""),
    message: text("message").notNull().default(""),
    generation: bigint("generation", { mode: "number" }).notNull().default(0),
    /** cluster → {applied, health, message, status}. */
    aggregatedStatus: jsonb("aggregated_status")
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true }),
    /** Karmada's gracefulEvictionTasks: clusters being left, whose copy stays until the task ends. */
    evictionTasks: jsonb("eviction_tasks")
      .$type<Record<string, unknown>[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.name] })],
);

/**
 * Lists of clusters that many bindings name alike, by the hash of their content. A binding over a
 * fleet of thousands rejects most of it, for the same few reasons as the other templates under
 * its policy: each binding refers to the list (less the clusters it took) instead of holding it.
 */
export const clusterSets = pgTable("cluster_sets", {
  /** The first 32 hex digits of the SHA-256 of the list as JSON. */
  id: text("id").primaryKey(),
  clusters: jsonb("clusters").$type<string[]>().notNull(),
  size: integer("size").notNull(),
});

/**
 * Bindings whose index row (the ResourceBinding of the hub that search shows) is behind: every
 * write to a binding queues its key here, and the queue is indexed in bulk, apart from the write.
 * A binding changes with each cluster's status report (thousands a minute in a rollout); its
 * index row, with its search words, took more of Postgres than the binding itself, once a report.
 */
export const bindingIndexQueue = pgTable(
  "binding_index_queue",
  {
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    queuedAt: timestamp("queued_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.name] }), index("binding_index_queue_age").on(t.queuedAt)],
);

/** The manifests one binding places on one cluster, as last sent, and what the agent reported. */
export const works = pgTable(
  "works",
  {
    cluster: text("cluster").notNull(),
    bindingNamespace: text("binding_namespace").notNull(),
    bindingName: text("binding_name").notNull(),
    generation: bigint("generation", { mode: "number" }).notNull(),
    manifests: jsonb("manifests").$type<Record<string, unknown>[]>().notNull(),
    /** apply or delete. */
    action: text("action").notNull(),
    applied: boolean("applied").notNull().default(false),
    status: jsonb("status").$type<Record<string, unknown>[]>().notNull().default(sql`'[]'::jsonb`),
    reportedGeneration: bigint("reported_generation", { mode: "number" }).notNull().default(0),
    /** A delete that leaves the member objects in place (preserveResourcesOnDeletion). */
    preserve: boolean("preserve").notNull().default(false),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.cluster, t.bindingNamespace, t.bindingName] }),
    index("works_binding").on(t.bindingNamespace, t.bindingName),
  ],
);

/**
 * The outbox of works: each transaction that changes works to send records them here, and the
 * entry goes once they are on the bus. One left behind (the scheduler stopped between commit and
 * publish) is published again by the relay. One row per transaction, rather than a mark on each
 * work, which rewrote every work row (manifests and all) a second time.
 */
export const workSends = pgTable("work_sends", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  /** [{cluster, namespace, name}]: the works, by key; each is sent as it stands then. */
  works: jsonb("works").$type<{ cluster: string; namespace: string; name: string }[]>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
