/**
 * Clusterpedia's list-option vectors, replayed by meaning. Each vector pins the SQL Clusterpedia
 * builds over its own table; Atoll's schema differs, so the replay loads one fixture into both a
 * Clusterpedia-shaped table and Atoll's index, runs Clusterpedia's SQL on the first and Atoll's
 * translation of the same options on the second, and compares the rows (in order where the SQL
 * orders them, by count where it pages without an order). Where Atoll differs on purpose, the
 * handler says so and checks Atoll's own rule instead:
 * - kube field selectors are applied (Clusterpedia applies them after this query, in memory);
 * - owner filters apply across several clusters, each cluster's owners to its own objects;
 * - raw SQL from a URL is never run: each statement is offered to Atoll's SQL front end, which
 *   must refuse it or bind every value as a parameter.
 */

import { parseLabelSelector } from "@atoll/kube";
import {
  and,
  type Condition,
  column,
  conditionSql,
  ownerCondition,
  parseSqlQuery,
  QueryError,
  searchPostgres,
} from "@atoll/search";
import { applyIndexOps, type DatabaseHandle, openDatabase, temporaryDatabase } from "@atoll/store";
import { PgDialect } from "drizzle-orm/pg-core";
import { type Handler, same } from "./runner.js";

// biome-ignore lint/suspicious/noExplicitAny: vectors and rows are loose JSON
type Any = any;

interface Fixture {
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  owner?: string;
  gvr: [group: string, version: string, resource: string, kind: string];
  rv: number;
  created: string;
  labels: Record<string, string>;
  extra: Record<string, unknown>;
  podIP: string;
}

const DEPLOY: Fixture["gvr"] = ["apps", "v1", "deployments", "Deployment"];
const POD: Fixture["gvr"] = ["", "v1", "pods", "Pod"];
const NAMESPACE: Fixture["gvr"] = ["", "v1", "namespaces", "Namespace"];

/** Labels, fields, owners, times and versions chosen so every option above selects some rows and not others. */
const FIXTURE: Fixture[] = [
  {
    cluster: "cluster-1",
    namespace: "ns-1",
    name: "name-1",
    uid: "uid-1",
    owner: "owner-uid-1",
    gvr: POD,
    rv: 9,
    created: "2022-03-05T12:00:00Z",
    labels: { key1: "value1", key2: "value2" },
    extra: { field1: { field11: "value1" }, field2: "value2" },
    podIP: "10.0.0.3",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-1",
    name: "name-2",
    uid: "uid-2",
    owner: "owner-uid-1",
    gvr: POD,
    rv: 10,
    created: "2022-03-10T12:00:00Z",
    labels: { key1: "value2", key2: "value2", "key1.io": "value1" },
    extra: { field1: { field11: "value2" }, field2: "value2" },
    podIP: "10.0.0.1",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-2",
    name: "name-1",
    uid: "uid-3",
    owner: "uid-1",
    gvr: POD,
    rv: 100,
    created: "2022-03-15T12:00:00Z",
    labels: { key1: "other" },
    extra: { field1: { field11: { "field12.io": "value1" } } },
    podIP: "10.0.0.2",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-2",
    name: "name-3",
    uid: "uid-4",
    owner: "uid-2",
    gvr: POD,
    rv: 2,
    created: "2022-03-01T12:00:00Z",
    labels: {},
    extra: {},
    podIP: "10.0.0.10",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-1",
    name: "owner-name-1",
    uid: "owner-uid-1",
    gvr: DEPLOY,
    rv: 5,
    created: "2022-03-03T12:00:00Z",
    labels: { "key1.io": "" },
    extra: { field1: { field11: "" } },
    podIP: "10.0.0.5",
  },
  {
    cluster: "cluster-1",
    namespace: "",
    name: "owner-name-1",
    uid: "owner-uid-2",
    gvr: NAMESPACE,
    rv: 7,
    created: "2022-03-20T12:00:00Z",
    labels: { key2: "value2" },
    extra: { field2: "value2" },
    podIP: "10.0.0.7",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-3",
    name: "name-4",
    uid: "uid-5",
    owner: "owner-uid-2",
    gvr: POD,
    rv: 11,
    created: "2022-03-14T12:00:00Z",
    labels: { key1: "value1" },
    extra: { field2: "value2" },
    podIP: "10.0.0.4",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-1",
    name: "resource-1",
    uid: "uid-9",
    gvr: DEPLOY,
    rv: 12,
    created: "2022-03-08T12:00:00Z",
    labels: { key2: "value2" },
    extra: { field1: { field11: "value1" } },
    podIP: "10.0.0.6",
  },
  {
    cluster: "cluster-1",
    namespace: "ns-2",
    name: "owner_name-1",
    uid: "uid-10",
    owner: "owner-uid-1",
    gvr: POD,
    rv: 13,
    created: "2022-03-09T12:00:00Z",
    labels: { key1: "value1", key2: "other" },
    extra: {},
    podIP: "10.0.0.8",
  },
  {
    cluster: "cluster-2",
    namespace: "ns-1",
    name: "name-1",
    uid: "uid-6",
    owner: "owner-uid-1",
    gvr: POD,
    rv: 3,
    created: "2022-03-04T12:00:00Z",
    labels: { key1: "value1", key2: "value2" },
    extra: { field1: { field11: "value1" }, field2: "value2" },
    podIP: "10.0.1.1",
  },
  {
    cluster: "cluster-2",
    namespace: "ns-1",
    name: "name-2",
    uid: "uid-7",
    gvr: POD,
    rv: 4,
    created: "2022-03-15T00:00:00Z",
    labels: { key1: "value2" },
    extra: {},
    podIP: "10.0.1.2",
  },
  {
    cluster: "cluster-3",
    namespace: "ns-1",
    name: "resource-1",
    uid: "uid-8",
    gvr: DEPLOY,
    rv: 1,
    created: "2022-03-04T00:00:00Z",
    labels: {},
    extra: { field2: "value2" },
    podIP: "10.0.2.1",
  },
];

function objectOf(f: Fixture): Record<string, unknown> {
  const [group, version, , kind] = f.gvr;
  return {
    apiVersion: group ? `${group}/${version}` : version,
    kind,
    metadata: {
      name: f.name,
      ...(f.namespace ? { namespace: f.namespace } : {}),
      uid: f.uid,
      resourceVersion: String(f.rv),
      creationTimestamp: f.created,
      labels: f.labels,
      ...(f.owner
        ? {
            ownerReferences: [
              { apiVersion: "v1", kind: "Owner", name: "owner", uid: f.owner, controller: true },
            ],
          }
        : {}),
    },
    ...f.extra,
    status: { podIP: f.podIP },
  };
}

const keyOf = (row: { cluster: string; namespace: string; name: string }) =>
  `${row.cluster}/${row.namespace}/${row.name}`;

export interface ClusterpediaReplay {
  handlers: Record<string, Handler>;
  close(): Promise<void>;
}

/** Loads the fixture into a fresh database and returns the handlers that use it. */
export async function clusterpediaReplay(): Promise<ClusterpediaReplay> {
  const database = await temporaryDatabase("clusterpedia_vectors");
  const handle: DatabaseHandle = await openDatabase(database.url, { migrate: false });
  const { sql } = handle;
  await sql`create schema clusterpedia`;
  await sql`create table clusterpedia.resources (id bigserial primary key, "group" text not null, version text not null,
    resource text not null, kind text not null, cluster text not null, namespace text not null, name text not null,
    owner_uid text not null default '', uid text not null, resource_version text not null, object jsonb not null,
    created_at timestamp not null, synced_at timestamp, deleted_at timestamp)`;
  for (const f of FIXTURE) {
    const [group, version, resource, kind] = f.gvr;
    await sql`insert into clusterpedia.resources ("group", version, resource, kind, cluster, namespace, name, owner_uid, uid,
      resource_version, object, created_at)
      values (${group}, ${version}, ${resource}, ${kind}, ${f.cluster}, ${f.namespace}, ${f.name}, ${f.owner ?? ""}, ${f.uid},
      ${String(f.rv)}, ${JSON.stringify(objectOf(f))}::jsonb, ${f.created.replace("T", " ").replace("Z", "")}::timestamp)`;
  }
  await applyIndexOps(
    sql,
    FIXTURE.map((f) => ({
      op: "upsert" as const,
      row: {
        cluster: f.cluster,
        uid: f.uid,
        apiGroup: f.gvr[0],
        apiVersion: f.gvr[1],
        kind: f.gvr[3],
        resource: f.gvr[2],
        namespace: f.namespace,
        name: f.name,
        resourceVersion: BigInt(f.rv),
        syncId: "fixture",
        objectJson: JSON.stringify(objectOf(f)),
      },
    })),
  );

  /** Clusterpedia's SQL on its table. MySQL's JSON_EXTRACT becomes the Postgres path it means. */
  const theirs = async (statement: string): Promise<string[]> =>
    await sql.begin(async (tx) => {
      await tx`set local search_path to clusterpedia`;
      const text = statement.replace(
        /JSON_EXTRACT\(object,'\$\.([^']+)'\)/g,
        (_m, path: string) => `("object" #>> '{${path.split(".").join(",")}}')`,
      );
      return ((await tx.unsafe(text)) as unknown as Any[]).map(keyOf);
    });

  const ours = async (
    where: Condition[],
    options: { orderBy?: Any[]; limit?: number; offset?: number } = {},
  ) => {
    const condition = and(where);
    const page = await searchPostgres(
      handle.db,
      {
        ...(condition ? { where: condition } : {}),
        orderBy: options.orderBy ?? [],
        ...(options.offset ? { offset: options.offset } : {}),
      },
      { limit: options.limit ?? 1000 },
    );
    return page.items.map(keyOf);
  };

  const sorted = (keys: string[]) => [...keys].sort();

  /** Cluster, namespace, name and time options as IR conditions. */
  const metaConditions = (o: Any): Condition[] => {
    const list = (field: "cluster" | "namespace" | "name", values?: string[]): Condition[] =>
      values?.length ? [{ type: "in", field: column(field), values, negated: false }] : [];
    return [
      ...list("cluster", o.ClusterNames),
      ...list("namespace", o.Namespaces),
      ...list("name", o.Names),
      ...(o.Since
        ? [{ type: "compare", field: column("creationTimestamp"), op: ">=", value: o.Since } as Condition]
        : []),
      ...(o.Before
        ? [{ type: "compare", field: column("creationTimestamp"), op: "<", value: o.Before } as Condition]
        : []),
    ];
  };

  /** Clusterpedia's enhanced field selector: label-selector grammar over JSON paths, keys in ['...']. */
  const fieldConditions = (selector: string | undefined): Condition[] => {
    if (!selector) return [];
    const parts = selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
    return parts.map((raw): Condition => {
      const part = raw.trim();
      const match = /^(!?)([^\s=!]+?)(?:\s*(==|=|!=)\s*(.*)|\s+(in|notin)\s+\((.*)\))?$/.exec(part);
      if (!match) throw new Error(`cannot read field selector "${part}"`);
      const [, bang, path, op, value, setOp, set] = match;
      const segments = path!.match(/[^.[\]']+|\['[^']*'\]/g)!.map((s) => s.replace(/^\['|'\]$/g, ""));
      const field = { kind: "path" as const, segments };
      if (setOp) {
        const values = set!.split(",").map((v) => v.trim());
        return { type: "in", field, values, negated: setOp === "notin" };
      }
      if (op === "!=") return { type: "not", of: { type: "compare", field, op: "=", value: value ?? "" } };
      if (op) return { type: "compare", field, op: "=", value: value ?? "" };
      return { type: "null", field, negated: !bang };
    });
  };

  const optionsOf = (input: Any) => input.listOptions ?? {};

  const compareRows = async (input: Any, expected: Any) =>
    same(sorted(await ours([...metaConditions(optionsOf(input))])), sorted(await theirs(expected.postgres)));

  const handlers: Record<string, Handler> = {};
  for (const group of ["meta", "meta-clusters", "meta-namespace", "meta-since"])
    handlers[group] = compareRows;
  for (const group of ["label", "label-not", "label-equal-complex", "label-equal-empty"])
    handlers[group] = async (input, expected) =>
      same(
        sorted(
          await ours(
            parseLabelSelector(optionsOf(input).LabelSelector).map((requirement) => ({
              type: "label",
              requirement,
            })),
          ),
        ),
        sorted(await theirs(expected.postgres)),
      );
  for (const group of ["field", "field-not", "field-equal-complex", "field-equal-empty"])
    handlers[group] = async (input, expected) =>
      same(
        sorted(await ours(fieldConditions(optionsOf(input).EnhancedFieldSelector))),
        sorted(await theirs(expected.postgres)),
      );
  // Clusterpedia leaves kube field selectors to a later in-memory pass; Atoll applies them in the
  // query. Either way the caller gets the rows the selector picks.
  handlers["field-kube-fieldselector"] = async (input, expected) => {
    const selector = optionsOf(input).FieldSelector as string;
    const [path, value] = selector.split("=") as [string, string];
    const filtered = (await theirs(expected.postgres)).filter((key) => {
      const f = FIXTURE.find((x) => keyOf(x) === key)!;
      return path.split(".").reduce<Any>((o, s) => o?.[s], objectOf(f)) === value;
    });
    return same(sorted(await ours(fieldConditions(selector))), sorted(filtered));
  };

  const orderField = (field: string) => {
    const json = /^JSON_EXTRACT\(object,'\$\.([^']+)'\)$/.exec(field);
    if (json) return { kind: "path" as const, segments: json[1]!.split(".") };
    return column(
      field === "resource_version" ? "resourceVersion" : (field as "namespace" | "name" | "cluster"),
    );
  };
  for (const group of ["orderby", "orderby-custom"])
    handlers[group] = async (input, expected) =>
      same(
        await ours([], {
          orderBy: optionsOf(input).OrderBy.map((o: Any) => ({
            field: orderField(o.Field),
            direction: o.Desc ? "desc" : "asc",
          })),
        }),
        await theirs(expected.postgres),
      );

  // Without an order, which rows a page holds is the database's choice; how many it holds is not.
  for (const group of ["page", "page-limit", "page-continue", "page-limit-and"])
    handlers[group] = async (input, expected) => {
      const { Limit, Continue } = optionsOf(input);
      const offset = /^\d+$/.test(Continue ?? "") ? Number(Continue) : 0;
      const rows = await ours([], {
        orderBy: [{ field: column("name"), direction: "asc" }],
        ...(Limit > 0 ? { limit: Limit } : {}),
        ...(offset ? { offset } : {}),
      });
      return same(rows.length, (await theirs(expected.postgres)).length);
    };

  const ownerHandler: Handler = async (input, expected) => {
    const o = optionsOf(input);
    const owner = ownerCondition(
      {
        ...(o.OwnerUID ? { ownerUID: o.OwnerUID } : {}),
        ...(o.OwnerName ? { ownerName: o.OwnerName } : {}),
        ...(o.OwnerGroupResource
          ? { ownerGR: `${o.OwnerGroupResource.Resource}.${o.OwnerGroupResource.Group}` }
          : {}),
        ...(o.OwnerSeniority ? { ownerSeniority: String(o.OwnerSeniority) } : {}),
      },
      o.Namespaces ?? [],
    );
    const rows = sorted(await ours([...metaConditions(o), ...(owner ? [owner] : [])]));
    if ((o.ClusterNames ?? []).length === 1) return same(rows, sorted(await theirs(expected.postgres)));
    // Clusterpedia drops owner filters over several clusters; Atoll keeps them, per cluster.
    const owned = FIXTURE.filter((f) => o.ClusterNames.includes(f.cluster) && f.owner === o.OwnerUID).map(
      keyOf,
    );
    return same(rows, sorted(owned));
  };
  for (const group of [
    "owner",
    "owner-uid-seniority",
    "owner-uid-and",
    "owner-name-with-group",
    "owner-only-gr-and",
    "owner-uid-multi",
    "owner-uid-namespaces-seniority",
    "owner-name",
  ])
    handlers[group] = ownerHandler;

  /** The storage GVR of a vector: "apps/v1/deployments", written in its input or its function. */
  const gvrOf = (input: Any) => {
    const [, group = "", version = "", resource = ""] =
      /^([^/]*)\/([^/]*)\/(\S*)/.exec(input.storageGVR ?? /\{([^}]*)\}/.exec(input.function)?.[1] ?? "") ??
      [];
    return { group, version, resource };
  };
  /** Atoll's rows of one resource type, and of one object key when asked; resources are not an IR column. */
  const inResource = async (input: Any, withKey: boolean) => {
    const { group, version, resource } = gvrOf(input);
    const eq = (field: "cluster" | "group" | "version" | "namespace" | "name", value: string): Condition => ({
      type: "compare",
      field: column(field),
      op: "=",
      value,
    });
    const rows = await ours([
      eq("group", group),
      eq("version", version),
      ...(withKey
        ? [eq("cluster", input.cluster), eq("namespace", input.namespace), eq("name", input.name)]
        : []),
    ]);
    return sorted(rows.filter((key) => FIXTURE.some((f) => keyOf(f) === key && f.gvr[2] === resource)));
  };
  handlers.get = async (input, expected) =>
    same(
      await inResource(input, true),
      sorted(await theirs(expected.postgres.replace('SELECT "object"', "SELECT *"))),
    );
  handlers["get-non"] = handlers.get;
  handlers["list-empty"] = async (input, expected) =>
    same(await inResource(input, false), sorted(await theirs(expected.postgres)));
  // Deletes are compared by what they would remove, in a transaction that is rolled back.
  const deleted = async (statement: string): Promise<string[]> => {
    let keys: string[] = [];
    await sql
      .begin(async (tx) => {
        await tx`set local search_path to clusterpedia`;
        keys = ((await tx.unsafe(`${statement} RETURNING cluster, namespace, name`)) as unknown as Any[]).map(
          keyOf,
        );
        throw new Error("rollback");
      })
      .catch((error: Error) => {
        if (error.message !== "rollback") throw error;
      });
    return sorted(keys);
  };
  handlers.delete = async (input, expected) =>
    same(await inResource(input, true), await deleted(expected.postgres));
  handlers["delete-non"] = handlers.delete;

  /**
   * Raw SQL from a URL (Clusterpedia's whereSQL options). Atoll runs none: the statement, with
   * its parameters written in as literals, goes to Atoll's SQL front end, which must refuse it
   * with a QueryError or turn it into SQL whose every value is a bound parameter.
   */
  const dialect = new PgDialect();
  const decodeJsonParams = (encoded: string[]): unknown[] =>
    encoded.flatMap((e) => {
      const text = Buffer.from(e, "base64").toString("utf8");
      if (Buffer.from(text, "utf8").toString("base64").replace(/=+$/, "") !== e.replace(/=+$/, ""))
        throw new QueryError("INVALID_PARAMS", "not base64");
      const value = JSON.parse(text);
      if (!Array.isArray(value)) throw new QueryError("INVALID_PARAMS", "not an array");
      return value;
    });
  const rawSql: Handler = async (input) => {
    const q = input.urlQuery ?? {};
    const p = input.params ?? {};
    const statement: string | undefined = p.WhereSQLStatement ?? q.whereSQLStatement?.[0] ?? q.whereSQL?.[0];
    let params: unknown[];
    try {
      params = [
        ...(p["WhereSQLParams (or WhereSQLJSONParams)"] ?? p.WhereSQLJSONParams ?? q.whereSQLParam ?? []),
        ...(q.whereSQLJSONParams ? decodeJsonParams(q.whereSQLJSONParams) : []),
      ];
    } catch {
      return undefined; // undecodable parameters are refused, as Clusterpedia refuses them
    }
    if (!statement)
      return params.length === 0 || q.whereSQLStatement === undefined
        ? undefined
        : "parameters without a statement were accepted";
    const literal = (v: unknown) =>
      Array.isArray(v) ? `(${v.map(literal).join(", ")})` : `'${String(v).replaceAll("'", "''")}'`;
    let at = 0;
    const where = statement
      .replace(/\?/g, () => (at < params.length ? literal(params[at++]) : "?"))
      .replace(/\btest_column2\b/g, "namespace")
      .replace(/\btest_column\b/g, "name");
    let query: ReturnType<typeof parseSqlQuery>;
    try {
      query = parseSqlQuery(`SELECT * FROM resources WHERE ${where}`);
    } catch (error) {
      return error instanceof QueryError
        ? undefined
        : `failed other than with a QueryError: ${(error as Error).message}`;
    }
    const rendered = dialect.sqlToQuery(conditionSql(query.where!));
    for (const value of params.flat().map(String))
      if (value && rendered.sql.includes(value))
        return `the value ${JSON.stringify(value)} reached the SQL text`;
    await ours([query.where!]);
    return undefined;
  };
  for (const group of [
    "psql-no",
    "psql-single-clause-no",
    "psql-multi-clause-no",
    "psql-injection-in-statement-passes",
    "psql-single",
    "psql-two",
    "psql-mismatched-param",
    "psql-inject-always",
    "psql-inject-comment",
    "psql-inject-union-column",
    "psql-inject-union",
    "psql-json-param",
    "psql-json-param-not",
    "gate-none",
    "gate-raw",
    "gate-param-whereSQL",
    "gate-param",
    "gate-both",
    "gate-both-statement-no",
    "gate-both-statement",
    "gate-both-bad",
    "parse-whereSQL",
    "parse-statement",
    "parse-statement-one",
    "parse-statement-two",
    "parse-statement-json",
    "parse-statement-json-params",
    "parse-statement-both-param",
    "parse-statement-both-param-kinds",
    "parse-error-bad",
    "parse-error-invalid",
    "parse-error-json-not",
    "parse-error-param-without",
    "parse-error-json-params-without",
  ])
    handlers[group] = rawSql;

  return {
    handlers,
    close: async () => {
      await handle.close();
      await database.drop();
    },
  };
}
