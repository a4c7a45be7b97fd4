/**
 * One index per hub holds every cluster's objects. Identity and filter fields are keywords; labels,
 * annotations and the full object are flat_object fields, so any key or JSON path is searchable
 * without a mapping per key (and without mapping explosion across thousands of CRDs).
 */
export function resourceIndexName(prefix: string): string {
  return `${prefix}atoll-resources`;
}

export function resourceIndexTemplate(prefix: string): Record<string, unknown> {
  return {
    index_patterns: [`${resourceIndexName(prefix)}*`],
    priority: 100,
    template: {
      settings: {
        number_of_shards: 1,
        refresh_interval: "1s",
        // Deletes leave versioned tombstones this long, so a replayed older write cannot resurrect
        // an object; the same span the RESOURCES stream can replay.
        "index.gc_deletes": "96h",
        "index.mapping.total_fields.limit": 200,
        // Words as the Postgres back end splits them: any run of letters and digits.
        analysis: {
          tokenizer: { atoll_words: { type: "pattern", pattern: "[^\\p{L}\\p{N}]+" } },
          analyzer: { atoll_words: { type: "custom", tokenizer: "atoll_words", filter: ["lowercase"] } },
        },
      },
      mappings: {
        dynamic: "strict",
        properties: {
          cluster: { type: "keyword" },
          uid: { type: "keyword" },
          apiGroup: { type: "keyword" },
          apiVersion: { type: "keyword" },
          kind: { type: "keyword" },
          resource: { type: "keyword" },
          namespace: { type: "keyword" },
          name: { type: "keyword", fields: { text: { type: "text", analyzer: "simple" } } },
          resourceVersion: { type: "long" },
          syncId: { type: "keyword" },
          createdAt: { type: "date" },
          indexedAt: { type: "date" },
          labels: { type: "flat_object" },
          annotations: { type: "flat_object" },
          object: { type: "flat_object" },
          /** Phase, pod reason and container state reasons: what status:X and kubectl's STATUS match. */
          statusReasons: { type: "keyword" },
          /** status.conditions as "Type=Status" (Ready=True), for condition('Type') filters. */
          conditions: { type: "keyword" },
          /** metadata.ownerReferences[*].uid, for owner filters (kubectl's and Clusterpedia's). */
          ownerUids: { type: "keyword" },
          /** Name, namespace, kind, labels, annotations and the object's string values, for free-word search by prefix. */
          searchText: { type: "text", analyzer: "atoll_words" },
        },
      },
    },
  };
}
