import type { LabelRequirement } from "@atoll/kube";
import { and, asc, eq, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "./db.js";
import { resources } from "./schema/resources.js";

export interface ResourceFilter {
  cluster?: string;
  kind?: string;
  namespace?: string;
  /** Exact name, or a pattern with * wildcards. */
  name?: string;
  labels?: LabelRequirement[];
  /** Free words; each must prefix-match a word of the name, namespace, kind, labels or annotations. */
  text?: string;
  limit: number;
  after?: ResourceCursor;
}

/** Position after the last row of a page, in the listing order. */
export interface ResourceCursor {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface ResourceItem {
  cluster: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  object: Record<string, unknown>;
}

const contains = (key: string, value: string) =>
  sql`${resources.labels} @> ${JSON.stringify({ [key]: value })}::jsonb`;

/** Label requirements as SQL with Kubernetes semantics; = and in use the GIN index through @>. */
export function labelCondition(requirement: LabelRequirement): SQL {
  const { key, operator, values } = requirement;
  const anyOf = () => or(...values.map((v) => contains(key, v)))!;
  switch (operator) {
    case "=":
    case "in":
      return anyOf();
    case "!=":
    case "notin":
      return sql`not (${anyOf()})`;
    case "exists":
      return sql`${resources.labels} ? ${key}`;
    case "!":
      return sql`not (${resources.labels} ? ${key})`;
    case "gt":
    case "lt": {
      const cmp = operator === "gt" ? sql`>` : sql`<`;
      return sql`(${resources.labels} ->> ${key}) ~ '^-?[0-9]+$' and (${resources.labels} ->> ${key})::numeric ${cmp} ${values[0]}::numeric`;
    }
  }
}

/** Free text as a prefix tsquery over the generated search vector; words are reduced to safe tokens. */
export function textQuery(text: string): string | undefined {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean);
  return words.length ? words.map((w) => `${w}:*`).join(" & ") : undefined;
}

function likePattern(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, "%");
}

export async function listResources(
  db: Database,
  filter: ResourceFilter,
): Promise<{ items: ResourceItem[]; next?: ResourceCursor }> {
  const conditions: (SQL | undefined)[] = [
    filter.cluster !== undefined ? eq(resources.cluster, filter.cluster) : undefined,
    filter.kind !== undefined ? eq(resources.kind, filter.kind) : undefined,
    filter.namespace !== undefined ? eq(resources.namespace, filter.namespace) : undefined,
    filter.name === undefined
      ? undefined
      : filter.name.includes("*")
        ? sql`${resources.name} like ${likePattern(filter.name)}`
        : eq(resources.name, filter.name),
    ...(filter.labels ?? []).map(labelCondition),
  ];
  const query = filter.text !== undefined ? textQuery(filter.text) : undefined;
  if (query) conditions.push(sql`${resources.search} @@ to_tsquery('simple', ${query})`);
  if (filter.after) {
    const a = filter.after;
    conditions.push(
      sql`(${resources.cluster}, ${resources.kind}, ${resources.namespace}, ${resources.name}, ${resources.uid}) > (${a.cluster}, ${a.kind}, ${a.namespace}, ${a.name}, ${a.uid})`,
    );
  }
  const rows = await db
    .select({
      cluster: resources.cluster,
      apiGroup: resources.apiGroup,
      apiVersion: resources.apiVersion,
      kind: resources.kind,
      namespace: resources.namespace,
      name: resources.name,
      uid: resources.uid,
      resourceVersion: resources.resourceVersion,
      object: resources.object,
    })
    .from(resources)
    .where(and(...conditions))
    .orderBy(
      asc(resources.cluster),
      asc(resources.kind),
      asc(resources.namespace),
      asc(resources.name),
      asc(resources.uid),
    )
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  const items = page.map((r) => ({
    cluster: r.cluster,
    apiVersion: r.apiGroup ? `${r.apiGroup}/${r.apiVersion}` : r.apiVersion,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    resourceVersion: r.resourceVersion.toString(),
    object: r.object,
  }));
  return rows.length > filter.limit && last
    ? {
        items,
        next: {
          cluster: last.cluster,
          kind: last.kind,
          namespace: last.namespace,
          name: last.name,
          uid: last.uid,
        },
      }
    : { items };
}

export async function countResources(db: Database, cluster?: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(resources)
    .where(cluster ? eq(resources.cluster, cluster) : undefined);
  return row?.count ?? 0;
}
