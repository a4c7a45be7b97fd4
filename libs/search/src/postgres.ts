import { assertQueryBounded, type Field, type Query, QueryError } from "@atoll/ir";
import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type postgres from "postgres";
import { COLUMN_SQL, conditionSql, textOf } from "./postgres-sql.js";
import { fieldText } from "./render.js";

/** A drizzle database over postgres.js, with its client (which runs the statements). */
// biome-ignore lint/suspicious/noExplicitAny: the translator works with any drizzle schema
export type Database = PostgresJsDatabase<any> & { $client: postgres.Sql };
const dialect = new PgDialect();

/**
 * A row count as a literal: the planner then knows the LIMIT, which a parameter hides from a
 * cached generic plan. Only whole numbers pass, so nothing from a user reaches the text.
 */
function count(n: number): SQL {
  if (!Number.isSafeInteger(n) || n < 0) throw new QueryError("INVALID_LIMIT", `${n} is not a row count`);
  return sql.raw(String(n));
}

/**
 * Runs a statement on the driver directly: drizzle's execute costs about a millisecond a query
 * on top of postgres.js, a third of a typical indexed search. Parameters stay parameters.
 */
async function run(db: Database, statement: SQL): Promise<Record<string, unknown>[]> {
  const { sql: text, params } = dialect.sqlToQuery(statement);
  return (await db.$client.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as Record<
    string,
    unknown
  >[];
}

export interface Cursor {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface SearchItem {
  cluster: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  object: Record<string, unknown>;
}

export interface SearchPage {
  items: SearchItem[];
  /** COUNT(*) per group, largest first, for GROUP BY queries. */
  aggregations?: { key: Record<string, unknown>; count: number }[];
  next?: Cursor | { offset: number };
  total?: number;
  totalIsEstimate?: boolean;
}

const EXACT_TOTAL_LIMIT = 10_000;
const MAX_GROUPS = 1000;

function orderSql(field: Field): SQL {
  return field.kind === "column" ? COLUMN_SQL[field.name] : textOf(field);
}

function toItem(r: Record<string, unknown>): SearchItem {
  return {
    cluster: r.cluster as string,
    apiVersion: r.api_group ? `${r.api_group}/${r.api_version}` : (r.api_version as string),
    kind: r.kind as string,
    namespace: r.namespace as string,
    name: r.name as string,
    uid: r.uid as string,
    resourceVersion: r.rv as string,
    object: r.object as Record<string, unknown>,
  };
}

/**
 * Runs a query. Every value reaches Postgres as a parameter. Statements are bounded by the
 * connection's statement_timeout, which the query service sets (openDatabase statementTimeoutMs).
 * The default order (cluster, kind, namespace, name, uid) pages by keyset; an explicit ORDER BY or
 * OFFSET pages by offset; GROUP BY returns counts.
 */
export async function searchPostgres(
  db: Database,
  query: Query,
  page: { limit: number; after?: Cursor | { offset: number }; withTotal?: boolean },
): Promise<SearchPage> {
  assertQueryBounded(query);
  const where = query.where ? conditionSql(query.where) : sql`true`;
  if (query.aggregate) {
    const aggregations = await aggregate(db, where, query);
    // When every group came back, their counts add up to the exact total: no second scan.
    const complete = aggregations.length < groupLimit(query);
    return {
      items: [],
      aggregations,
      ...(page.withTotal
        ? complete
          ? { total: aggregations.reduce((sum, a) => sum + a.count, 0), totalIsEstimate: false }
          : await total(db, where)
        : {}),
    };
  }
  const columns = sql`cluster, api_group, api_version, kind, namespace, name, uid, resource_version::text as rv, object`;
  const cap = query.limit;
  // A LIMIT is the caller's total, delivered over as many pages as it takes: pages then count
  // their offset, which the cap is measured against.
  const byOffset =
    query.orderBy.length > 0 ||
    query.offset !== undefined ||
    cap !== undefined ||
    (page.after !== undefined && "offset" in page.after);
  let rows: Record<string, unknown>[];
  let next: SearchPage["next"];
  if (byOffset) {
    const offset = page.after && "offset" in page.after ? page.after.offset : (query.offset ?? 0);
    const start = offset - (query.offset ?? 0);
    const limit = cap === undefined ? page.limit : Math.max(0, Math.min(page.limit, cap - start));
    const order =
      query.orderBy.length > 0
        ? sql.join(
            [
              ...query.orderBy.map(
                (o) => sql`${orderSql(o.field)} ${o.direction === "desc" ? sql`desc` : sql`asc`} nulls last`,
              ),
              sql`uid`,
            ],
            sql`, `,
          )
        : sql`cluster, kind, namespace, name, uid`;
    rows = (await run(
      db,
      sql`select ${columns} from resources where ${where} order by ${order} limit ${count(limit + 1)} offset ${count(offset)}`,
    )) as unknown as Record<string, unknown>[];
    const capReached = cap !== undefined && start + limit >= cap;
    if (rows.length > limit && !capReached) next = { offset: offset + limit };
    rows = rows.slice(0, limit);
  } else {
    const a = page.after && !("offset" in page.after) ? page.after : undefined;
    const keyset = a
      ? sql`and (cluster, kind, namespace, name, uid) > (${a.cluster}, ${a.kind}, ${a.namespace}, ${a.name}, ${a.uid})`
      : sql``;
    const limit = page.limit;
    rows = (await run(
      db,
      sql`select ${columns} from resources where ${where} ${keyset} order by cluster, kind, namespace, name, uid limit ${count(limit + 1)}`,
    )) as unknown as Record<string, unknown>[];
    const last = rows[limit - 1];
    if (rows.length > limit && last) {
      next = {
        cluster: last.cluster as string,
        kind: last.kind as string,
        namespace: last.namespace as string,
        name: last.name as string,
        uid: last.uid as string,
      };
    }
    rows = rows.slice(0, limit);
  }
  const result: SearchPage = { items: rows.map(toItem), ...(next ? { next } : {}) };
  if (page.withTotal) Object.assign(result, await total(db, where));
  return result;
}

const groupLimit = (query: Query) => Math.min(query.limit ?? MAX_GROUPS, MAX_GROUPS);

async function aggregate(
  db: Database,
  where: SQL,
  query: Query,
): Promise<{ key: Record<string, unknown>; count: number }[]> {
  const groups = query.aggregate?.groupBy ?? [];
  const selected = groups.map((g, i) => sql`${orderSql(g)} as ${sql.raw(`g${i}`)}`);
  const groupBy = groups.length
    ? sql`group by ${sql.join(
        groups.map((_, i) => sql.raw(`g${i}`)),
        sql`, `,
      )}`
    : sql``;
  const rows = (await run(
    db,
    sql`
    select ${sql.join([...selected, sql`count(*)::int as n`], sql`, `)} from resources where ${where}
    ${groupBy} order by n desc${
      groups.length
        ? sql`, ${sql.join(
            groups.map((_, i) => sql.raw(`g${i}`)),
            sql`, `,
          )}`
        : sql``
    } limit ${count(groupLimit(query))}`,
  )) as unknown as Record<string, unknown>[];
  return rows.map((r) => ({
    key: Object.fromEntries(groups.map((g, i) => [fieldText(g), r[`g${i}`] ?? null])),
    count: r.n as number,
  }));
}

/** Exact up to 10,000 matches; beyond that the planner's estimate, marked as such. */
async function total(db: Database, where: SQL): Promise<{ total: number; totalIsEstimate: boolean }> {
  const [counted] = (await run(
    db,
    sql`select count(*)::int as n from (select 1 from resources where ${where} limit ${count(EXACT_TOTAL_LIMIT + 1)}) capped`,
  )) as unknown as { n: number }[];
  if ((counted?.n ?? 0) <= EXACT_TOTAL_LIMIT) return { total: counted?.n ?? 0, totalIsEstimate: false };
  const [plan] = (await run(
    db,
    sql`explain (format json) select 1 from resources where ${where}`,
  )) as unknown as { "QUERY PLAN": { Plan: { "Plan Rows": number } }[] }[];
  const estimate = plan?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? EXACT_TOTAL_LIMIT;
  return { total: Math.max(estimate, EXACT_TOTAL_LIMIT + 1), totalIsEstimate: true };
}
