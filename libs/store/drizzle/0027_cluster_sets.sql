-- A binding over a fleet of a thousand clusters named nearly all of them in its rejections: the
-- clusters a filter rejected (the same for every template under its policy) and the feasible ones
-- the spread did not select (the same list less the few each binding took). Written with every
-- scheduling, that was most of the bytes placement wrote. A long list is now stored once, by the
-- hash of its content, and a binding's reason holds {"set": id} with the clusters it took ("less").
CREATE TABLE "cluster_sets" (
	"id" text PRIMARY KEY NOT NULL,
	"clusters" jsonb NOT NULL,
	"size" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bindings" ADD COLUMN "rejection_counts" jsonb DEFAULT '[]'::jsonb NOT NULL;
--> statement-breakpoint
UPDATE bindings SET rejection_counts = (
  SELECT jsonb_agg(jsonb_build_object('reason', r.key, 'count', jsonb_array_length(r.value)) ORDER BY r.key)
  FROM jsonb_each(rejected) r)
WHERE rejected <> '{}'::jsonb;
--> statement-breakpoint
CREATE FUNCTION atoll_binding_status_list(aggregated jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object(
      'clusterName', e.key,
      'applied', e.value -> 'applied',
      'health', CASE WHEN (e.value ->> 'healthy')::boolean THEN 'Healthy' ELSE 'Unhealthy' END,
      'generation', e.value -> 'generation',
      'manifests', e.value -> 'manifests') ORDER BY e.key), '[]'::jsonb)
  FROM jsonb_each(aggregated) e
$$;
--> statement-breakpoint
CREATE FUNCTION atoll_binding_ready_replicas(aggregated jsonb, kind text) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum((m #>> '{status,readyReplicas}')::int), 0)::int
  FROM jsonb_each(aggregated) e, jsonb_array_elements(e.value -> 'manifests') m
  WHERE m ->> 'kind' = kind AND jsonb_typeof(m #> '{status,readyReplicas}') = 'number'
$$;
--> statement-breakpoint
-- With no subquery of its own, Postgres inlines this into the statement that indexes bindings
-- instead of running it as a function for each one; its subqueries, in the functions above, run
-- only for bindings with a cluster's status. Each binding's index row took five times as long.
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
      'rejections', b.rejection_counts,
      'aggregatedStatus', CASE WHEN b.aggregated_status = '{}'::jsonb THEN '[]'::jsonb
        ELSE atoll_binding_status_list(b.aggregated_status) END,
      'readyReplicas', CASE WHEN b.aggregated_status = '{}'::jsonb THEN 0
        ELSE atoll_binding_ready_replicas(b.aggregated_status, b.kind) END))
$$;
