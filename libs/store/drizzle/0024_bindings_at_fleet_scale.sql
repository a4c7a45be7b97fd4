-- A binding's rejected clusters are stored by reason: reason -> [clusters]. Keyed by cluster, a
-- binding over a fleet of a thousand clusters held a thousand copies of a few sentences, written
-- again with every scheduling and into the index's ResourceBinding and its revisions.
UPDATE bindings SET rejected = coalesce((
  SELECT jsonb_object_agg(reason, clusters) FROM (
    SELECT e.value #>> '{}' AS reason, jsonb_agg(e.key ORDER BY e.key) AS clusters
    FROM jsonb_each(rejected) e GROUP BY 1) g), '{}'::jsonb)
WHERE rejected <> '{}'::jsonb;
--> statement-breakpoint
-- The index's ResourceBinding counts them by reason, [{reason, count}]: GET /api/v1/bindings/{namespace}/{name}
-- names each cluster. Listing them there cost more than the rest of the object and its indexing.
CREATE OR REPLACE FUNCTION atoll_binding_object(b bindings) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'apiVersion', 'work.karmada.io/v1alpha2',
    'kind', 'ResourceBinding',
    'metadata', jsonb_build_object(
      'name', b.name, 'namespace', b.namespace, 'uid', 'binding/' || b.namespace || '/' || b.name,
      'generation', b.generation,
      'annotations', jsonb_build_object('atoll.dev/policy', b.policy)),
    'spec', jsonb_build_object(
      'resource', jsonb_build_object('apiVersion', b.api_version, 'kind', b.kind, 'namespace', b.namespace,
        'name', b.template_name, 'uid', b.uid),
      'clusters', b.clusters),
    'status', jsonb_build_object(
      'schedulerObservedGeneration', b.generation,
      'lastScheduledTime', b.scheduled_at,
      'conditions', jsonb_build_array(jsonb_build_object(
        'type', 'Scheduled',
        'status', CASE WHEN b.condition = 'Success' THEN 'True' ELSE 'False' END,
        'reason', b.condition, 'message', b.message)),
      'rejections', coalesce((
        SELECT jsonb_agg(jsonb_build_object('reason', r.key, 'count', jsonb_array_length(r.value)) ORDER BY r.key)
        FROM jsonb_each(b.rejected) r), '[]'::jsonb),
      'aggregatedStatus', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
          'clusterName', e.key,
          'applied', e.value -> 'applied',
          'health', CASE WHEN (e.value ->> 'healthy')::boolean THEN 'Healthy' ELSE 'Unhealthy' END,
          'generation', e.value -> 'generation',
          'manifests', e.value -> 'manifests') ORDER BY e.key)
        FROM jsonb_each(b.aggregated_status) e), '[]'::jsonb),
      'readyReplicas', (
        SELECT coalesce(sum((m #>> '{status,readyReplicas}')::int), 0)
        FROM jsonb_each(b.aggregated_status) e, jsonb_array_elements(e.value -> 'manifests') m
        WHERE m ->> 'kind' = b.kind AND jsonb_typeof(m #> '{status,readyReplicas}') = 'number')))
$$;
--> statement-breakpoint
UPDATE resources r SET object = jsonb_set(r.object #- '{status,rejectedClusters}', '{status,rejections}',
    atoll_binding_object(b) #> '{status,rejections}'),
  resource_version = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
FROM bindings b
WHERE r.cluster = 'atoll.hub' AND r.uid = 'binding/' || b.namespace || '/' || b.name;
--> statement-breakpoint
-- Bindings reach the index set-based, one statement for all the rows a statement wrote: the
-- scheduler writes hundreds of bindings in one statement, and a row trigger ran an upsert (and
-- the index's history trigger) for each of them.
CREATE FUNCTION atoll_index_bindings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A binding indexed before keeps its creation time: the update takes it from the indexed row.
  INSERT INTO resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels,
    annotations, owner_refs, resource_version, created_at, object, sync_id)
  SELECT 'atoll.hub', 'binding/' || n.namespace || '/' || n.name, 'work.karmada.io', 'v1alpha2',
    'ResourceBinding', 'resourcebindings', n.namespace, n.name, '{}'::jsonb,
    jsonb_build_object('atoll.dev/policy', n.policy), '[]'::jsonb,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, coalesce(n.scheduled_at, now()),
    jsonb_set(atoll_binding_object(n), '{metadata,creationTimestamp}',
      to_jsonb(to_char(coalesce(n.scheduled_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), ''
  FROM new_rows n
  ORDER BY n.namespace, n.name
  ON CONFLICT (cluster, uid) DO UPDATE SET api_version = excluded.api_version,
    annotations = excluded.annotations, resource_version = excluded.resource_version,
    object = jsonb_set(excluded.object, '{metadata,creationTimestamp}',
      to_jsonb(to_char(coalesce(resources.created_at, excluded.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
    indexed_at = now();
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION atoll_unindex_bindings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM resources r USING old_rows o
  WHERE r.cluster = 'atoll.hub' AND r.uid = 'binding/' || o.namespace || '/' || o.name;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER bindings_in_index ON bindings;
--> statement-breakpoint
DROP FUNCTION atoll_index_binding();
--> statement-breakpoint
CREATE TRIGGER bindings_in_index_insert AFTER INSERT ON bindings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_index_bindings();
--> statement-breakpoint
CREATE TRIGGER bindings_in_index_update AFTER UPDATE ON bindings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_index_bindings();
--> statement-breakpoint
CREATE TRIGGER bindings_in_index_delete AFTER DELETE ON bindings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_unindex_bindings();
