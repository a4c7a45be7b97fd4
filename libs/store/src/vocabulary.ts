import type postgres from "postgres";

/** One word of the fleet's vocabulary and where it was seen, so each asker gets only what they may read. */
export interface VocabularyRow {
  sort: "namespace" | "node" | "label" | "image" | "reason";
  cluster: string;
  /** "" for cluster-scoped objects. */
  namespace: string;
  /** The label key; "" for the other sorts. */
  key: string;
  value: string;
}

/**
 * Label keys whose values are machine-made or repeat other names: hashes, and the namespace
 * name label every namespace carries.
 */
const NOISY_LABEL_KEYS = ["%hash", "kubernetes.io/metadata.name", "controller-uid", "batch.kubernetes.io/%"];

/** Beyond this many rows a vocabulary is not what a question is read against; the first rows are kept. */
const MAX_ROWS = 50_000;

/**
 * The names a plain-language question may use: namespaces, nodes, label keys with their values,
 * container images and the reasons objects' statuses give (lower-cased, as status search compares
 * them), each with the cluster and namespace it was seen in.
 */
export async function fleetVocabulary(sql: postgres.Sql): Promise<VocabularyRow[]> {
  const rows = await sql<VocabularyRow[]>`
    select 'namespace' as sort, cluster, name as namespace, '' as key, name as value
      from resources where kind = 'Namespace'
    union
    select 'node', cluster, '', '', name from resources where kind = 'Node'
    union
    select distinct 'label', r.cluster, r.namespace, l.key, l.value
      from resources r, jsonb_each_text(r.labels) l
      where l.value <> '' and not (l.key like any (${NOISY_LABEL_KEYS}::text[]))
    union
    select distinct 'image', r.cluster, r.namespace, '', i.image #>> '{}'
      from resources r,
        jsonb_path_query(r.object, '$.spec.containers[*].image') i(image)
      where r.kind = 'Pod'
    union
    select distinct 'image', r.cluster, r.namespace, '', i.image #>> '{}'
      from resources r,
        jsonb_path_query(r.object, '$.spec.template.spec.containers[*].image') i(image)
    union
    select distinct 'reason', r.cluster, r.namespace, '', reason
      from resources r, jsonb_array_elements_text(r.status_reasons) reason
    limit ${MAX_ROWS}`;
  return [...rows];
}
