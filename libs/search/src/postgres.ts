import {
  assertQueryBounded,
  type Column,
  type Condition,
  type Field,
  type OwnerRef,
  type Query,
  QueryError,
  type Scalar,
} from "@atoll/ir";
import type { LabelRequirement } from "@atoll/kube";
import { wordsOf } from "@atoll/store";
import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type postgres from "postgres";
import { fieldText } from "./render.js";

/** A drizzle database over postgres.js, with its client (which runs the statements). */
// biome-ignore lint/suspicious/noExplicitAny: the translator works with any drizzle schema
export type Database = PostgresJsDatabase<any> & { $client: postgres.Sql };

const COLUMN_SQL: Record<Column, SQL> = {
  cluster: sql`cluster`,
  apiVersion: sql`(case when api_group = '' then api_version else api_group || '/' || api_version end)`,
  group: sql`api_group`,
  version: sql`api_version`,
  kind: sql`kind`,
  namespace: sql`namespace`,
  name: sql`name`,
  uid: sql`uid`,
  creationTimestamp: sql`created_at`,
  resourceVersion: sql`resource_version`,
};

/** Any key an object may hold, such as an annotation-like "example.com/tier"; never a control character. */
const SEGMENT = /^[^\p{Cc}]+$/u;

function checkPath(segments: string[]): void {
  for (const segment of segments) {
    if (!SEGMENT.test(segment))
      throw new QueryError(
        "INVALID_PATH",
        `"${segments.join(".")}" has a segment "${segment}" that is not a field name`,
      );
  }
}

/** A key written inside double quotes, for a jsonpath or a Postgres array literal. */
const quoted = (segment: string) => `"${segment.replace(/["\\]/g, "\\$&")}"`;

/** A jsonpath literal built only from checked, quoted segments; values always go in as variables. */
function jsonPath(segments: string[]): string {
  checkPath(segments);
  return `$${segments.map((s) => (s === "*" ? "[*]" : /^\d+$/.test(s) ? `[${s}]` : `.${quoted(s)}`)).join("")}`;
}

function textOf(field: Field): SQL {
  switch (field.kind) {
    case "column":
      return COLUMN_SQL[field.name];
    case "label":
      return sql`(labels ->> ${field.key})`;
    case "annotation":
      return sql`(annotations ->> ${field.key})`;
    case "path":
      checkPath(field.segments);
      return sql`(object #>> ${`{${field.segments.map(quoted).join(",")}}`}::text[])`;
  }
}

/**
 * A field as a number. In the object only JSON numbers count; labels and annotations are text,
 * read as a number when they look like one. Anything else is null, so it never fails the query.
 */
function numericOf(field: Field): SQL {
  if (field.kind === "path") {
    // Measured fastest of the safe forms: about 10% over an unguarded cast, a jsonpath filter 33%.
    checkPath(field.segments);
    const value = sql`(object #> ${`{${field.segments.map(quoted).join(",")}}`}::text[])`;
    return sql`(case when jsonb_typeof(${value}) = 'number' then (${value})::numeric end)`;
  }
  const text = textOf(field);
  return sql`(case when ${text} ~ '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' then (${text})::numeric end)`;
}

/** For field-to-field comparisons: Kubernetes omits zero counters such as readyReplicas. */
function numberOf(field: Field): SQL {
  return sql`coalesce(${numericOf(field)}, 0)`;
}

/** Numbers compare as numbers; columns that hold times or versions keep their own type. */
function valueExpr(field: Field, value: Scalar): { left: SQL; right: SQL } {
  if (field.kind === "column" && field.name === "creationTimestamp")
    return { left: textOf(field), right: sql`${String(value)}::timestamptz` };
  if (field.kind === "column" && field.name === "resourceVersion")
    return { left: textOf(field), right: sql`${String(value)}::bigint` };
  if (typeof value === "number") return { left: numericOf(field), right: sql`${value}::numeric` };
  return { left: textOf(field), right: sql`${String(value)}` };
}

const CMP: Record<string, SQL> = {
  "=": sql`=`,
  "!=": sql`<>`,
  "<": sql`<`,
  "<=": sql`<=`,
  ">": sql`>`,
  ">=": sql`>=`,
};
const JSONPATH_CMP: Record<string, string> = {
  "=": "==",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
};

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

const labelContains = (key: string, value: string) =>
  sql`labels @> ${JSON.stringify({ [key]: value })}::jsonb`;
const orAll = (parts: SQL[]) => (parts.length === 1 ? parts[0]! : sql`(${sql.join(parts, sql` or `)})`);

/**
 * One GIN-indexable test for "the label is any of these values". The jsonpath travels as a
 * parameter, and key and values are JSON-quoted inside it, so neither SQL nor the path can be
 * broken out of.
 */
const labelAnyOf = (key: string, values: string[]) =>
  values.length === 1
    ? labelContains(key, values[0]!)
    : sql`labels @? ${`$.${JSON.stringify(key)} ? (${values.map((v) => `@ == ${JSON.stringify(v)}`).join(" || ")})`}::jsonpath`;

/** Label requirements with Kubernetes semantics; = and in use the GIN index through @>. */
export function labelSql({ key, operator, values }: LabelRequirement): SQL {
  switch (operator) {
    case "=":
    case "in":
      return labelAnyOf(key, values);
    case "!=":
    case "notin":
      return sql`not ${labelAnyOf(key, values)}`;
    case "exists":
      return sql`labels ? ${key}`;
    case "!":
      return sql`not (labels ? ${key})`;
    case "gt":
    case "lt":
      return sql`${numericOf({ kind: "label", key })} ${operator === "gt" ? sql`>` : sql`<`} ${values[0]}::numeric`;
  }
}

/**
 * Free words as a prefix tsquery, split as the index splits them (wordsOf): anything but letters
 * and digits separates words, so every token is plain and to_tsquery never reads a phrase.
 */
export function textQuery(words: string[]): string | undefined {
  const tokens = words.flatMap(wordsOf);
  return tokens.length ? tokens.map((t) => `${t}:*`).join(" & ") : undefined;
}

const isArrayPath = (field: Field): field is Extract<Field, { kind: "path" }> =>
  field.kind === "path" && field.segments.includes("*");

function compareSql(field: Field, op: string, value: Scalar): SQL {
  if (field.kind === "label" && (op === "=" || op === "!=") && typeof value === "string") {
    return labelSql({ key: field.key, operator: op, values: [value] });
  }
  if (field.kind === "path" && field.segments.includes("*")) {
    return sql`jsonb_path_exists(object, ${`${jsonPath(field.segments)} ? (@ ${JSONPATH_CMP[op]} $v)`}::jsonpath, jsonb_build_object('v', ${JSON.stringify(value)}::jsonb))`;
  }
  const { left, right } = valueExpr(field, value);
  // Kubernetes semantics for a missing value: != matches it.
  return op === "!=" ? sql`${left} is distinct from ${right}` : sql`${left} ${CMP[op]} ${right}`;
}

export function conditionSql(c: Condition): SQL {
  switch (c.type) {
    case "and":
      return sql`(${sql.join(c.of.map(conditionSql), sql` and `)})`;
    case "or":
      return sql`(${sql.join(c.of.map(conditionSql), sql` or `)})`;
    case "not":
      return sql`not coalesce(${conditionSql(c.of)}, false)`;
    case "compare":
      return compareSql(c.field, c.op, c.value);
    case "compareFields":
      return sql`${numberOf(c.left)} ${CMP[c.op]} ${numberOf(c.right)}`;
    case "in": {
      if (c.values.length === 0) return c.negated ? sql`true` : sql`false`;
      const any = orAll(c.values.map((v) => compareSql(c.field, "=", v)));
      return c.negated ? sql`not coalesce(${any}, false)` : any;
    }
    case "like": {
      const operator = c.caseInsensitive ? sql`ilike` : sql`like`;
      const match = isArrayPath(c.field)
        ? sql`exists (select 1 from jsonb_path_query(object, ${jsonPath(c.field.segments)}::jsonpath) as v(value) where v.value #>> '{}' ${operator} ${c.pattern})`
        : sql`${textOf(c.field)} ${operator} ${c.pattern}`;
      return c.negated ? sql`not coalesce(${match}, false)` : match;
    }
    case "null": {
      if (isArrayPath(c.field)) {
        const exists = sql`jsonb_path_exists(object, ${jsonPath(c.field.segments)}::jsonpath)`;
        return c.negated ? exists : sql`not ${exists}`;
      }
      return sql`${textOf(c.field)} is ${c.negated ? sql`not null` : sql`null`}`;
    }
    case "between": {
      const low = valueExpr(c.field, c.low);
      const high = valueExpr(c.field, c.high);
      const inside = sql`${low.left} between ${low.right} and ${high.right}`;
      return c.negated ? sql`not coalesce(${inside}, false)` : inside;
    }
    case "label":
      return labelSql(c.requirement);
    case "status":
      // status_reasons is generated from the object (atoll_status_reasons), lower-cased and GIN-indexed.
      return sql`status_reasons @> jsonb_build_array(lower(${c.value}::text))`;
    case "condition": {
      const reported = sql`jsonb_path_exists(object, '$.status.conditions[*] ? (@.type == $type && @.status == $status)', jsonb_build_object('type', ${c.name}::text, 'status', ${c.status}::text))`;
      return c.negated ? sql`not ${reported}` : reported;
    }
    case "age":
      return c.op === "<"
        ? sql`created_at > now() - make_interval(secs => ${c.seconds})`
        : sql`created_at < now() - make_interval(secs => ${c.seconds})`;
    case "text": {
      const query = textQuery(c.words);
      return query ? sql`search @@ to_tsquery('simple', ${query})` : sql`true`;
    }
    case "owner":
      return ownerSql(c.owner, c.seniority);
  }
}

/** Rows whose owner references name an owner matched at the given depth, within one cluster. */
function ownerSql(owner: OwnerRef, seniority: number): SQL {
  const references = (row: SQL, uid: SQL) =>
    sql`${row}.owner_refs @> jsonb_build_array(jsonb_build_object('uid', ${uid}))`;
  // The owners at depth 0: by uid, or the objects matching the name (and group and resource).
  const levels: SQL[] = [];
  const found = owner.uid
    ? sql`select ${owner.uid}::text as uid`
    : sql`select o0.uid from resources o0 where o0.cluster = resources.cluster and o0.name = ${owner.name ?? ""}
        ${owner.group !== undefined ? sql`and o0.api_group = ${owner.group}` : sql``}
        ${owner.resource !== undefined ? sql`and o0.resource = ${owner.resource}` : sql``}
        ${
          owner.namespaces?.length
            ? sql`and o0.namespace in (${sql.join(
                [...owner.namespaces, ""].map((n) => sql`${n}`),
                sql`, `,
              )})`
            : sql``
        }`;
  levels.push(found);
  for (let depth = 1; depth <= seniority; depth++)
    levels.push(
      sql`select o${sql.raw(String(depth))}.uid from resources o${sql.raw(String(depth))}
        where o${sql.raw(String(depth))}.cluster = resources.cluster and exists (select 1 from (${levels[depth - 1]!}) up
        where ${references(sql`o${sql.raw(String(depth))}`, sql`up.uid`)})`,
    );
  return sql`exists (select 1 from (${levels[seniority]!}) owners where ${references(sql`resources`, sql`owners.uid`)})`;
}

/** Position after the last row of a page, in the default listing order. */
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
