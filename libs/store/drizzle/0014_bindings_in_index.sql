-- Bindings are mirrored into the index as Karmada-shaped ResourceBinding objects of the
-- virtual cluster "atoll.hub" (a dot, so no registered cluster can share the name), inside the
-- same transaction as the binding itself: search, the kube API and watches see placement and
-- its aggregated status without a second writer that could miss a change.
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
      'rejectedClusters', b.rejected,
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
CREATE OR REPLACE FUNCTION atoll_index_binding() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM resources WHERE cluster = 'atoll.hub' AND uid = 'binding/' || OLD.namespace || '/' || OLD.name;
    RETURN OLD;
  END IF;
  INSERT INTO resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels,
    annotations, owner_refs, resource_version, created_at, object, sync_id)
  VALUES ('atoll.hub', 'binding/' || NEW.namespace || '/' || NEW.name, 'work.karmada.io',
    'work.karmada.io/v1alpha2', 'ResourceBinding', 'resourcebindings', NEW.namespace, NEW.name, '{}'::jsonb,
    jsonb_build_object('atoll.dev/policy', NEW.policy), '[]'::jsonb,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, coalesce(NEW.scheduled_at, now()),
    atoll_binding_object(NEW), '')
  ON CONFLICT (cluster, uid) DO UPDATE SET annotations = excluded.annotations,
    resource_version = excluded.resource_version, object = excluded.object, indexed_at = now();
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER bindings_in_index AFTER INSERT OR UPDATE OR DELETE ON bindings
  FOR EACH ROW EXECUTE FUNCTION atoll_index_binding();
--> statement-breakpoint
INSERT INTO resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels,
  annotations, owner_refs, resource_version, created_at, object, sync_id)
SELECT 'atoll.hub', 'binding/' || b.namespace || '/' || b.name, 'work.karmada.io', 'work.karmada.io/v1alpha2',
  'ResourceBinding', 'resourcebindings', b.namespace, b.name, '{}'::jsonb,
  jsonb_build_object('atoll.dev/policy', b.policy), '[]'::jsonb,
  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, coalesce(b.scheduled_at, now()), atoll_binding_object(b), ''
FROM bindings b
ON CONFLICT (cluster, uid) DO NOTHING;
