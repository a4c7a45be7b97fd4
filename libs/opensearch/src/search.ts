import { type Cursor, fieldText, type Query, type SearchItem, type SearchPage } from "@atoll/search";
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
  const request = searchRequest(query, page);
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
    } else if (query.limit === undefined) {
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
