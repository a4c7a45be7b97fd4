-- History is written set-based from transition tables: one INSERT per statement, and only for
-- rows whose resourceVersion actually changed (a relist that re-sends an unchanged object is no change).
CREATE FUNCTION record_resource_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_changes (cluster, uid, api_group, kind, namespace, name, change_type, resource_version)
  SELECT n.cluster, n.uid, n.api_group, n.kind, n.namespace, n.name, 'ADDED', n.resource_version FROM new_rows n;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION record_resource_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_changes (cluster, uid, api_group, kind, namespace, name, change_type, resource_version)
  SELECT n.cluster, n.uid, n.api_group, n.kind, n.namespace, n.name, 'MODIFIED', n.resource_version
  FROM new_rows n JOIN old_rows o ON o.cluster = n.cluster AND o.uid = n.uid
  WHERE o.resource_version <> n.resource_version;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION record_resource_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_changes (cluster, uid, api_group, kind, namespace, name, change_type, resource_version)
  SELECT o.cluster, o.uid, o.api_group, o.kind, o.namespace, o.name, 'DELETED', o.resource_version FROM old_rows o;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER resources_history_insert AFTER INSERT ON resources
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_resource_inserts();
--> statement-breakpoint
CREATE TRIGGER resources_history_update AFTER UPDATE ON resources
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_resource_updates();
--> statement-breakpoint
CREATE TRIGGER resources_history_delete AFTER DELETE ON resources
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_resource_deletes();
