-- A ResourceBinding's row in the index keeps its version in api_version as every other row does
-- (v1alpha2, its group in api_group): 0014 stored the group/version, which kubectl discovery
-- read as the group "work.karmada.io/work.karmada.io". Its object gains a creationTimestamp, the
-- time the binding was first indexed, so kubectl's AGE column has a value.
CREATE OR REPLACE FUNCTION atoll_index_binding() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  binding_uid text;
  created timestamptz;
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM resources WHERE cluster = 'atoll.hub' AND uid = 'binding/' || OLD.namespace || '/' || OLD.name;
    RETURN OLD;
  END IF;
  binding_uid := 'binding/' || NEW.namespace || '/' || NEW.name;
  created := coalesce(
    (SELECT created_at FROM resources WHERE cluster = 'atoll.hub' AND uid = binding_uid),
    NEW.scheduled_at, now());
  INSERT INTO resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels,
    annotations, owner_refs, resource_version, created_at, object, sync_id)
  VALUES ('atoll.hub', binding_uid, 'work.karmada.io', 'v1alpha2', 'ResourceBinding', 'resourcebindings',
    NEW.namespace, NEW.name, '{}'::jsonb, jsonb_build_object('atoll.dev/policy', NEW.policy), '[]'::jsonb,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, created,
    jsonb_set(atoll_binding_object(NEW), '{metadata,creationTimestamp}',
      to_jsonb(to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), '')
  ON CONFLICT (cluster, uid) DO UPDATE SET api_version = excluded.api_version,
    annotations = excluded.annotations, resource_version = excluded.resource_version,
    object = excluded.object, indexed_at = now();
  RETURN NEW;
END $$;
--> statement-breakpoint
UPDATE resources r SET api_version = 'v1alpha2',
  object = jsonb_set(atoll_binding_object(b), '{metadata,creationTimestamp}',
    to_jsonb(to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
  resource_version = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
FROM bindings b
WHERE r.cluster = 'atoll.hub' AND r.uid = 'binding/' || b.namespace || '/' || b.name;
