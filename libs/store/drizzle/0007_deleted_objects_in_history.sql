ALTER TABLE "resource_changes" ADD COLUMN "object" jsonb;--> statement-breakpoint
CREATE OR REPLACE FUNCTION record_resource_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_changes (cluster, uid, api_group, kind, namespace, name, change_type, resource_version, object)
  SELECT o.cluster, o.uid, o.api_group, o.kind, o.namespace, o.name, 'DELETED', o.resource_version, o.object FROM old_rows o;
  RETURN NULL;
END $$;
