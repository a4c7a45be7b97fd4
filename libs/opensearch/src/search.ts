import {
  assertQueryBounded,
  type Condition,
  type Cursor,
  fieldText,
  type OwnerRef,
  type Query,
  QueryError,
  type SearchItem,
  type SearchPage,
} from "@atoll/search";
import type { OpenSearchClient } from "./client.js";
import { searchRequest } from "./query.js";

interface Hit {
  _source: {
    cluster: string;
    apiGroup: string;
    apiVersion: string;
    kind: string;
    namespace: string;
    name: string;
    uid: string;
    resourceVersion: number;
    object: Record<string, unknown>;
  };
}

interface SearchAnswer {
  hits: { total?: { value: number; relation: "eq" | "gte" }; hits: Hit[] };
  aggregations?: { groups?: { buckets: { key: string | string[]; doc_count: number }[] } };
}

/** A search page from OpenSearch, shaped exactly as the Postgres back end shapes it. */
export async function searchOpenSearch(
  client: OpenSearchClient,
  query: Query,
  page: { limit: number; after?: Cursor | { offset: number }; withTotal?: boolean },
): Promise<SearchPage> {
  assertQueryBounded(query);
  const where = await resolveOwners(client, query.where);
  const request = searchRequest({ ...query, ...(where ? { where } : {}) }, page);
  const answer = (await client.request(
    "POST",
    `/${client.index}/_search`,
    JSON.stringify(request),
  )) as unknown as SearchAnswer;
  const total =
    page.withTotal && answer.hits.total
      ? {
          total: answer.hits.total.value,
          totalIsEstimate: answer.hits.total.relation !== "eq" || answer.hits.total.value > 10_000,
        }
      : {};
  if (query.aggregate) {
    const groups = query.aggregate.groupBy;
    const buckets = answer.aggregations?.groups?.buckets;
    return {
      items: [],
      aggregations: buckets
        ? buckets.map((b) => {
            const keys = Array.isArray(b.key) ? b.key : [b.key];
            return {
              key: Object.fromEntries(groups.map((g, i) => [fieldText(g), keys[i] ?? null])),
              count: b.doc_count,
            };
          })
        : [{ key: {}, count: answer.hits.total?.value ?? 0 }],
      ...total,
    };
  }
  const size = (request.size as number) - 1;
  const hits = answer.hits.hits;
  const kept = hits.slice(0, size);
  const items: SearchItem[] = kept.map(({ _source: d }) => ({
    cluster: d.cluster,
    apiVersion: d.apiGroup ? `${d.apiGroup}/${d.apiVersion}` : d.apiVersion,
    kind: d.kind,
    namespace: d.namespace,
    name: d.name,
    uid: d.uid,
    resourceVersion: String(d.resourceVersion),
    object: d.object,
  }));
  let next: SearchPage["next"];
  if (hits.length > size) {
    if ("from" in request) {
      const capReached =
        query.limit !== undefined && (request.from as number) - (query.offset ?? 0) + size >= query.limit;
      if (!capReached) next = { offset: (request.from as number) + size };
    } else {
      const last = kept.at(-1)!._source;
      next = {
        cluster: last.cluster,
        kind: last.kind,
        namespace: last.namespace,
        name: last.name,
        uid: last.uid,
      };
    }
  }
  return { items, ...(next ? { next } : {}), ...total };
}

/** The most owners (or children) one generation of an owner filter may hold. */
const OWNER_LOOKUP_LIMIT = 10_000;

/** An object an owner filter passes through: its uid, and the cluster it lives in when known. */
interface OwnerUid {
  cluster?: string;
  uid: string;
}

/**
 * Postgres follows an owner filter inside one SQL statement; OpenSearch has no joins, so the
 * owners are looked up here, generation by generation, until only the uids whose direct children
 * are wanted remain. Each generation stays in its parent's cluster, as in Postgres.
 */
export async function resolveOwners(
  client: OpenSearchClient,
  condition: Condition | undefined,
): Promise<Condition | undefined> {
  if (!condition) return undefined;
  switch (condition.type) {
    case "and":
    case "or":
      return {
        type: condition.type,
        of: await Promise.all(condition.of.map(async (c) => (await resolveOwners(client, c))!)),
      };
    case "not":
      return { type: "not", of: (await resolveOwners(client, condition.of))! };
    case "owner": {
      if (condition.owner.uid !== undefined && condition.seniority === 0) return condition;
      let generation = condition.owner.uid
        ? [{ uid: condition.owner.uid }]
        : await lookUpUids(client, ownersByName(condition.owner));
      for (let depth = 1; depth <= condition.seniority && generation.length > 0; depth++)
        generation = await lookUpUids(client, childrenOf(generation));
      return {
        type: "or",
        of: generation.map(({ cluster, uid }): Condition => {
          const owned: Condition = { type: "owner", owner: { uid }, seniority: 0 };
          return cluster === undefined
            ? owned
            : {
                type: "and",
                of: [
                  { type: "compare", field: { kind: "column", name: "cluster" }, op: "=", value: cluster },
                  owned,
                ],
              };
        }),
      };
    }
    default:
      return condition;
  }
}

function ownersByName(owner: OwnerRef): Record<string, unknown> {
  return {
    bool: {
      filter: [
        { term: { name: owner.name ?? "" } },
        ...(owner.group !== undefined ? [{ term: { apiGroup: owner.group } }] : []),
        ...(owner.resource !== undefined ? [{ term: { resource: owner.resource } }] : []),
        // Cluster-scoped owners (namespace "") are always candidates.
        ...(owner.namespaces?.length ? [{ terms: { namespace: [...owner.namespaces, ""] } }] : []),
      ],
    },
  };
}

function childrenOf(parents: OwnerUid[]): Record<string, unknown> {
  const byCluster = new Map<string | undefined, OwnerUid[]>();
  for (const parent of parents) {
    const members = byCluster.get(parent.cluster) ?? [];
    members.push(parent);
    byCluster.set(parent.cluster, members);
  }
  return {
    bool: {
      should: [...byCluster].map(([cluster, members]) => ({
        bool: {
          filter: [
            ...(cluster === undefined ? [] : [{ term: { cluster } }]),
            { terms: { ownerUids: members.map((m) => m.uid) } },
          ],
        },
      })),
      minimum_should_match: 1,
    },
  };
}

async function lookUpUids(client: OpenSearchClient, query: Record<string, unknown>): Promise<OwnerUid[]> {
  const answer = (await client.request(
    "POST",
    `/${client.index}/_search`,
    JSON.stringify({ size: OWNER_LOOKUP_LIMIT + 1, _source: ["cluster", "uid"], query }),
  )) as unknown as { hits: { hits: { _source: { cluster: string; uid: string } }[] } };
  const hits = answer.hits.hits;
  if (hits.length > OWNER_LOOKUP_LIMIT)
    throw new QueryError(
      "OWNER_TOO_BROAD",
      `an owner filter reaches more than ${OWNER_LOOKUP_LIMIT} objects in one generation; name the owner by uid or narrow it by namespace`,
    );
  return hits.map(({ _source }) => ({ cluster: _source.cluster, uid: _source.uid }));
}
