import { and, desc, eq, gt, inArray, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import { alias, type PgColumn } from "drizzle-orm/pg-core";
import { type Database, ISO_TIME_FORMAT, isoText } from "./db.js";
import { clusters } from "./schema/clusters.js";
import { resourceHealth as health, issues } from "./schema/insight.js";
import { metricSnapshots as snapshots } from "./schema/metrics.js";
import { resources } from "./schema/resources.js";

/**
 * Reads for insight over the index. Every function takes the caller's conditions (grants, the
 * objects a request addresses) as SQL over the resources table and adds none of its own, so what a
 * caller may see is decided in one place, by the query service, before it calls here.
 */

/** Rows of a table keyed by (cluster, uid) that are about the objects a condition selects; all without one. */
export function aboutObjects(condition: SQL | undefined): SQL {
  return condition
    ? sql`(cluster, uid) in (select ${resources.cluster}, ${resources.uid} from ${resources} where ${condition})`
    : sql`true`;
}

/** A mean score rounded as the API shows it. */
const meanScore = (score: PgColumn | SQL) => sql<number>`round(avg(${score})::numeric, 2)::float`;
const rows = sql<number>`count(*)::int`;
/** The weight a finding's severity takes off a health score (migration 0023's severity_weight). */
export const severityWeight = (severity: PgColumn | SQL = issues.severity) =>
  sql<number>`severity_weight(${severity})`;

/** The groupings a health score may be asked for, with the columns each reports. */
const SCORE_GROUPS = {
  fleet: {},
  cluster: { cluster: health.cluster },
  namespace: { cluster: health.cluster, namespace: health.namespace },
  kind: { kind: health.kind },
  object: {
    cluster: health.cluster,
    namespace: health.namespace,
    kind: health.kind,
    name: health.name,
    uid: health.uid,
  },
} as const;
export type ScoreGrouping = keyof typeof SCORE_GROUPS;
export const SCORE_GROUPINGS = Object.keys(SCORE_GROUPS) as ScoreGrouping[];

/** Health scores of the objects a condition selects, as one mean or a mean per group, worst first. */
export async function healthScores(db: Database, by: ScoreGrouping, within: SQL) {
  const keys: Record<string, PgColumn> = SCORE_GROUPS[by];
  const columns = Object.values(keys);
  const score = meanScore(health.score);
  const query = db
    .select({
      ...keys,
      objects: rows,
      objectsWithIssues: sql<number>`(count(*) filter (where ${health.openIssues} > 0))::int`,
      openIssues: sql<number>`sum(${health.openIssues})::int`,
      score,
    })
    .from(health)
    .where(within)
    .$dynamic();
  if (columns.length)
    query
      .groupBy(...columns)
      .orderBy(score, ...columns)
      .limit(5000);
  return query;
}

export interface ObjectAddress {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
}

export interface HistoryWindow {
  sinceSeconds: number;
  stepSeconds: number;
}

/** One object's exact score at each step of a window, from when each of its findings opened and closed. */
export async function objectScoreHistory(
  db: Database,
  object: ObjectAddress,
  window: HistoryWindow,
): Promise<{ time: string; openIssues: number; score: number }[]> {
  const open = sql`count(${issues.rule})`;
  const points = await db.execute<{ time: string; openIssues: number; score: number }>(sql`
    select ${isoText(sql.raw("b.t"))} as time, ${open}::int as "openIssues",
      health_score(${open}, coalesce(sum(${severityWeight()}), 0))::float as score
    from generate_series(now() - make_interval(secs => ${window.sinceSeconds}), now(),
      make_interval(secs => ${window.stepSeconds})) b(t)
    left join ${issues} on ${and(
      eq(issues.cluster, object.cluster),
      eq(issues.namespace, object.namespace),
      eq(issues.kind, object.kind),
      eq(issues.name, object.name),
      lte(issues.firstSeen, sql`b.t`),
      or(isNull(issues.resolvedAt), gt(issues.resolvedAt, sql`b.t`)),
    )}
    group by b.t order by b.t`);
  return [...points];
}

/** Which recorded health figure a history reads (recordMetricSnapshots writes both). */
export const HEALTH_METRICS = { cluster: "cluster_health", namespace: "health" } as const;

/**
 * Recorded health scores of clusters or namespaces, averaged into steps of a window. The caller
 * keeps only the series it may read whole: a mean tells of every object under it.
 */
export async function recordedScores(
  db: Database,
  of: keyof typeof HEALTH_METRICS,
  window: HistoryWindow & { cluster?: string | undefined; namespace?: string | undefined },
) {
  const step = sql<string>`to_char(date_bin(make_interval(secs => ${window.stepSeconds}), ${snapshots.time},
    timestamptz 'epoch') at time zone 'UTC', ${ISO_TIME_FORMAT})`;
  // Grouped and ordered by position: the step's parameters would make a repeated expression differ.
  const byPosition = sql`1, 2, 3`;
  return db
    .select({
      cluster: snapshots.cluster,
      namespace: snapshots.namespace,
      time: step,
      score: meanScore(snapshots.value),
    })
    .from(snapshots)
    .where(
      and(
        eq(snapshots.metric, HEALTH_METRICS[of]),
        gt(snapshots.time, sql`now() - make_interval(secs => ${window.sinceSeconds})`),
        window.cluster ? eq(snapshots.cluster, window.cluster) : undefined,
        window.namespace ? eq(snapshots.namespace, window.namespace) : undefined,
      ),
    )
    .groupBy(byPosition)
    .orderBy(byPosition)
    .limit(100_000);
}

/** Counts and the mean score of the objects a condition selects, with their open findings by severity and rule. */
export async function insightSummary(db: Database, within: SQL) {
  const open = and(isNull(issues.resolvedAt), within);
  const [kinds, issuesBySeverity, [overall], topRules] = await Promise.all([
    db
      .select({ kind: health.kind, objects: rows })
      .from(health)
      .where(within)
      .groupBy(health.kind)
      .orderBy(desc(rows)),
    db
      .select({ severity: issues.severity, issues: rows })
      .from(issues)
      .where(open)
      .groupBy(issues.severity)
      .orderBy(desc(severityWeight())),
    db
      .select({
        objects: rows,
        score: sql<number>`round(coalesce(avg(${health.score}), 100)::numeric, 2)::float`,
      })
      .from(health)
      .where(within),
    db
      .select({ rule: issues.rule, severity: issues.severity, objects: rows })
      .from(issues)
      .where(open)
      .groupBy(issues.rule, issues.severity)
      .orderBy(desc(severityWeight()), desc(rows))
      .limit(10),
  ]);
  return { ...overall, kinds, issuesBySeverity, topRules };
}

/** A row of a topology: enough of each object to find its relations. */
export interface TopologyRow {
  cluster: string;
  uid: string;
  kind: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ownerReferences: unknown[];
  /** The spec, for kinds whose relations are read from it. */
  spec: Record<string, unknown> | null;
  /** The object without its status, for kinds a custom relation reads anywhere. */
  object: Record<string, unknown> | null;
}

/** The objects of one namespace of a cluster and the cluster-scoped objects around them. */
export function namespaceNeighbourhood(cluster: string, namespace: string): SQL {
  return and(eq(resources.cluster, cluster), inArray(resources.namespace, [namespace, ""]))!;
}

/** The objects a topology is drawn over, at most `limit`. */
export async function topologyRows(
  db: Database,
  where: SQL,
  read: { specOf: string[]; wholeOf: string[]; limit: number },
): Promise<TopologyRow[]> {
  const { object, kind } = resources;
  return db
    .select({
      cluster: resources.cluster,
      uid: resources.uid,
      kind,
      namespace: resources.namespace,
      name: resources.name,
      labels: resources.labels,
      ownerReferences: resources.ownerRefs,
      spec: read.specOf.length
        ? sql<TopologyRow["spec"]>`case when ${inArray(kind, read.specOf)} then ${object}->'spec' end`
        : sql<null>`null`,
      object: read.wholeOf.length
        ? sql<TopologyRow["object"]>`case when ${inArray(kind, read.wholeOf)} then ${object} - 'status' end`
        : sql<null>`null`,
    })
    .from(resources)
    .where(where)
    .limit(read.limit);
}

/** The whole objects a condition selects, at most `limit`. */
export async function objectsWhere(
  db: Database,
  where: SQL,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const found = await db.select({ object: resources.object }).from(resources).where(where).limit(limit);
  return found.map((row) => row.object);
}

/** Objects of one cluster by uid. */
export async function objectsByUid(
  db: Database,
  cluster: string,
  uids: string[],
): Promise<Record<string, unknown>[]> {
  if (uids.length === 0) return [];
  return objectsWhere(db, and(eq(resources.cluster, cluster), inArray(resources.uid, uids))!, uids.length);
}

export type EventRow = {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  time: string | null;
};

/**
 * Events about the objects `targets` selects, among the events `visible` lets a caller read,
 * newest first. Events name what they are about by kind, namespace and name (involvedObject, or
 * regarding in events.k8s.io/v1), and usually by uid, which tells a recreated object from its
 * predecessor; a recurring event counts its series.
 */
export async function eventsAbout(
  db: Database,
  targets: SQL | undefined,
  visible: SQL | undefined,
  limit: number,
): Promise<EventRow[]> {
  // An alias renders as its name alone in a template: the FROM clause names its table beside it.
  const event = alias(resources, "e");
  const found = await db.execute<EventRow>(sql`
    with targets as (select ${resources.cluster}, ${resources.uid}, ${resources.kind}, ${resources.namespace}, ${resources.name}
        from ${resources} where ${targets ?? sql`true`} and ${resources.kind} <> 'Event'),
      events as (
        select ${event.cluster} as cluster, ${event.object} as object,
          coalesce(${event.object}->'involvedObject', ${event.object}->'regarding') as about
        from ${resources} as ${event} where ${event.kind} = 'Event' and ${visible ?? sql`true`})
    select e.cluster, e.about->>'kind' as kind, coalesce(e.about->>'namespace', '') as namespace, e.about->>'name' as name,
      e.object->>'type' as type, e.object->>'reason' as reason, coalesce(e.object->>'message', e.object->>'note') as message,
      coalesce((e.object->'series'->>'count')::int, (e.object->>'count')::int, 1) as count,
      coalesce(e.object->'series'->>'lastObservedTime', e.object->>'lastTimestamp', e.object->>'eventTime',
        e.object->'metadata'->>'creationTimestamp') as time
    from events e join targets t on t.cluster = e.cluster and t.kind = e.about->>'kind'
      and t.namespace = coalesce(e.about->>'namespace', '') and t.name = e.about->>'name'
      and coalesce(e.about->>'uid', t.uid) = t.uid
    order by time desc nulls last limit ${limit}`);
  return [...found];
}

/**
 * What objects are grouped by: a column of theirs, a label or annotation value, or a property
 * or label of their cluster from the registry.
 */
export type GroupKey =
  | { of: "object"; field: "cluster" | "namespace" | "kind" }
  | { of: "label" | "annotation" | "cluster-label"; key: string }
  | { of: "cluster"; field: "region" | "zone" | "provider" };

/** A group key written as the API takes it (namespace, label:team, region, cluster-label:env), or undefined. */
export function readGroupKey(text: string): GroupKey | undefined {
  const match = /^(label|annotation|cluster-label):(.+)$/.exec(text);
  if (match) return { of: match[1] as "label" | "annotation" | "cluster-label", key: match[2]! };
  if (text === "cluster" || text === "namespace" || text === "kind") return { of: "object", field: text };
  if (text === "region" || text === "zone" || text === "provider") return { of: "cluster", field: text };
  return undefined;
}

/** One group of objects: how many, their findings and their mean score. */
export type ResourceGroup = {
  group: string;
  objects: number;
  objectsWithIssues: number;
  openIssues: number;
  score: number;
  issuesBySeverity: Record<string, number>;
};

/**
 * Objects a condition selects, grouped by one to a few keys (one group per combination of values;
 * an object lacking any is in none), with each group's mean score and open findings by severity.
 */
export async function resourceGroups(db: Database, keys: GroupKey[], where: SQL | undefined) {
  const object = alias(resources, "r");
  const cluster = alias(clusters, "c");
  const scored = alias(health, "h");
  const keyValue = (key: GroupKey): SQL => {
    switch (key.of) {
      case "object":
        return sql`${object[key.field]}`;
      case "label":
        return sql`${object.labels} ->> ${key.key}`;
      case "annotation":
        return sql`${object.annotations} ->> ${key.key}`;
      case "cluster":
        return sql`nullif(${cluster[key.field]}, '')`;
      case "cluster-label":
        return sql`${cluster.labels} ->> ${key.key}`;
    }
  };
  const values = keys.map(keyValue);
  const group = values.length === 1 ? values[0]! : sql`concat_ws(' / ', ${sql.join(values, sql`, `)})`;
  const present = sql.join(
    values.map((value) => sql`${value} is not null`),
    sql` and `,
  );
  const found = await db.execute<ResourceGroup>(sql`
    with r as (select ${resources.cluster}, ${resources.uid}, ${resources.kind}, ${resources.namespace},
        ${resources.labels}, ${resources.annotations} from ${resources} where ${where ?? sql`true`}),
      grouped as (select ${group} as "group", ${scored.score} as score, ${scored.openIssues} as open_issues, ${object.cluster} as cluster, ${object.uid} as uid
        from r join ${health} as ${scored} on ${scored.cluster} = ${object.cluster} and ${scored.uid} = ${object.uid}
        left join ${clusters} as ${cluster} on ${cluster.name} = ${object.cluster}
        where ${present}),
      severities as (select x."group", ${issues.severity} as severity, count(*)::int as n
        from ${issues} join grouped x on x.cluster = ${issues.cluster} and x.uid = ${issues.uid}
        where ${issues.resolvedAt} is null group by 1, 2)
    select g."group", count(*)::int as objects, (count(*) filter (where g.open_issues > 0))::int as "objectsWithIssues",
      sum(g.open_issues)::int as "openIssues", ${meanScore(sql`g.score`)} as score,
      coalesce((select jsonb_object_agg(s.severity, s.n) from severities s where s."group" = g."group"), '{}'::jsonb)
        as "issuesBySeverity"
    from grouped g group by g."group" order by score, g."group" limit 1000`);
  return [...found];
}
