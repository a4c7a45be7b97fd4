import { type SQL, sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  customType,
  index,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

/**
 * Numbers every change Postgres accepts, rows and tombstones alike, in the order it accepted them:
 * the OpenSearch mirror's external version, so the mirror follows Postgres's decisions rather
 * than comparing resourceVersions itself (a forged deletion far in the future would otherwise
 * outvote the next full list there). It starts above any resourceVersion, which the mirror's
 * documents carried as their version before, and stays below 2^53, exact as a JSON number.
 */
export const resourceRevisions = pgSequence("resource_revisions", { startWith: 2 ** 52 });

const revision = () =>
  bigint("revision", { mode: "bigint" }).notNull().default(sql`nextval('resource_revisions')`);

/** One row per live object; Postgres is the source of truth of the index. */
export const resources = pgTable(
  "resources",
  {
    cluster: text("cluster").notNull(),
    uid: text("uid").notNull(),
    apiGroup: text("api_group").notNull(),
    apiVersion: text("api_version").notNull(),
    kind: text("kind").notNull(),
    resource: text("resource").notNull(),
    /** Empty for cluster-scoped objects, so (kind, namespace, name) stays one btree. */
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    annotations: jsonb("annotations").$type<Record<string, string>>().notNull(),
    ownerRefs: jsonb("owner_refs").$type<unknown[]>().notNull(),
    resourceVersion: bigint("resource_version", { mode: "bigint" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }),
    indexedAt: timestamp("indexed_at", { withTimezone: true }).notNull().defaultNow(),
    object: jsonb("object").$type<Record<string, unknown>>().notNull(),
    /** The full list this row was last seen in; a SYNC_END sweeps rows of other lists. */
    syncId: text("sync_id").notNull().default(""),
    /** When Postgres last accepted a change to this row (resourceRevisions). */
    revision: revision(),
    /**
     * Every reason an object's status gives, lower-cased (status search ignores case): phase,
     * reason, conditions' reasons, containers' current and last states' reasons. The function is
     * migration 0020's.
     */
    statusReasons: jsonb("status_reasons").generatedAlwaysAs(
      (): SQL => sql`atoll_status_reasons(${resources.object})`,
    ),
    /** The words of the object's own string values (objectWords), written by the indexer. */
    objectWords: text("object_words").array().notNull().default(sql`'{}'::text[]`),
    /**
     * Words of the name, namespace, kind, labels and annotations, and the object's own words.
     * Separators become spaces first: Postgres's simple parser would otherwise read "web-17" as
     * "web" and the number -17. The object's words come tokenized, so array_to_tsvector takes them
     * as they are: parsing a whole object's text here cost five times the rest of an insert.
     */
    search: tsvector("search").generatedAlwaysAs(
      (): SQL =>
        sql`to_tsvector('simple', translate(${resources.name} || ' ' || ${resources.namespace} || ' ' || ${resources.kind} || ' ' || ${resources.labels}::text || ' ' || ${resources.annotations}::text, '-./_:"{},=', '          ')) || array_to_tsvector(${resources.objectWords})`,
    ),
  },
  (t) => [
    primaryKey({ columns: [t.cluster, t.uid] }),
    index("resources_labels_gin").using("gin", t.labels),
    index("resources_kind_ns_name").on(t.kind, t.namespace, t.name),
    index("resources_cluster_kind_ns_name").on(t.cluster, t.kind, t.namespace, t.name),
    index("resources_sweep").on(t.cluster, t.apiGroup, t.resource, t.syncId),
    index("resources_search_gin").using("gin", t.search),
    index("resources_status_reasons_gin").using("gin", t.statusReasons),
  ],
);

/**
 * Objects known to be gone, and where in their operations' order: a late or replayed upsert at
 * or before the deletion's (syncId, resourceVersion) is stale and ignored, while an object a
 * newer full list contains comes back. Pruned once the bus can no longer replay it.
 */
export const resourceTombstones = pgTable(
  "resource_tombstones",
  {
    cluster: text("cluster").notNull(),
    uid: text("uid").notNull(),
    /** The deletion's resourceVersion, or the removed row's when a sweep removed it. */
    resourceVersion: bigint("resource_version", { mode: "bigint" }).notNull().default(sql`0`),
    /** The list the deletion was seen after, or the sweeping list. */
    syncId: text("sync_id").notNull().default(""),
    /** When Postgres accepted this deletion (resourceRevisions). */
    revision: revision(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.cluster, t.uid] }),
    index("resource_tombstones_deleted_at").on(t.deletedAt),
  ],
);

/** Append-only history, written by triggers only when an object's resourceVersion changes. */
export const resourceChanges = pgTable(
  "resource_changes",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    time: timestamp("time", { withTimezone: true }).notNull().defaultNow(),
    cluster: text("cluster").notNull(),
    uid: text("uid").notNull(),
    apiGroup: text("api_group").notNull(),
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    changeType: text("change_type").$type<"ADDED" | "MODIFIED" | "DELETED">().notNull(),
    resourceVersion: bigint("resource_version", { mode: "bigint" }).notNull(),
    /** The last state of a deleted object, so a watch can filter and print its deletion. */
    object: jsonb("object"),
  },
  (t) => [index("resource_changes_time").on(t.time), index("resource_changes_object").on(t.cluster, t.uid)],
);
