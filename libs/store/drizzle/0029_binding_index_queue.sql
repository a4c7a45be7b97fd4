-- A binding's index row (the hub's ResourceBinding that search shows) was written by a trigger in
-- every transaction that wrote the binding: each placement, and each cluster's status report, of
-- which a rollout brings thousands a minute. That row, with its search words, its status reasons
-- and their indexes, cost Postgres several times the binding itself. Writes now only queue the
-- binding's key, and the queue is indexed in bulk by atoll_index_queued_bindings, apart from the
-- write: a binding reported on ten times between two passes is indexed once.
CREATE TABLE "binding_index_queue" (
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "binding_index_queue_namespace_name_pk" PRIMARY KEY("namespace","name")
);
--> statement-breakpoint
CREATE INDEX "binding_index_queue_age" ON "binding_index_queue" USING btree ("queued_at");
--> statement-breakpoint
-- A key already queued is locked, not left alone, until the write commits: a pass running
-- meanwhile skips it (SKIP LOCKED) rather than index the binding as it was before the write and
-- take the key away. A pass that took the key first makes the write wait for it, then queue the
-- key again. It keeps the time it was first queued: how long the index has been behind.
CREATE FUNCTION atoll_queue_bindings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO binding_index_queue (namespace, name)
    SELECT namespace, name FROM old_rows ORDER BY namespace, name
    ON CONFLICT (namespace, name) DO UPDATE SET queued_at = binding_index_queue.queued_at;
  ELSE
    INSERT INTO binding_index_queue (namespace, name)
    SELECT namespace, name FROM new_rows ORDER BY namespace, name
    ON CONFLICT (namespace, name) DO UPDATE SET queued_at = binding_index_queue.queued_at;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER bindings_in_index_insert ON bindings;
--> statement-breakpoint
DROP TRIGGER bindings_in_index_update ON bindings;
--> statement-breakpoint
DROP TRIGGER bindings_in_index_delete ON bindings;
--> statement-breakpoint
DROP FUNCTION atoll_index_bindings();
--> statement-breakpoint
DROP FUNCTION atoll_unindex_bindings();
--> statement-breakpoint
CREATE TRIGGER bindings_queued_on_insert AFTER INSERT ON bindings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_queue_bindings();
--> statement-breakpoint
CREATE TRIGGER bindings_queued_on_update AFTER UPDATE ON bindings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_queue_bindings();
--> statement-breakpoint
CREATE TRIGGER bindings_queued_on_delete AFTER DELETE ON bindings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION atoll_queue_bindings();
--> statement-breakpoint
-- Indexes at most `batch` queued bindings, the longest behind first, and returns how many: each
-- as it is now, or out of the index once it is gone. Passes may run at once; each takes its own
-- keys. A binding indexed before keeps its creation time.
--
-- The keys are taken in one statement and the bindings read in the next, under a snapshot taken
-- once the keys are locked. Read in the same statement, a binding could be seen as it was when the
-- statement began while its key was taken as queued again by a write that committed meanwhile
-- (a locked row is re-read at its newest version), and the write was never shown.
CREATE FUNCTION atoll_index_queued_bindings(batch int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  namespaces text[];
  names text[];
BEGIN
  WITH due AS (
    DELETE FROM binding_index_queue q
    WHERE (q.namespace, q.name) IN (
      SELECT namespace, name FROM binding_index_queue ORDER BY queued_at LIMIT batch FOR UPDATE SKIP LOCKED)
    RETURNING q.namespace, q.name)
  SELECT coalesce(array_agg(namespace), '{}'), coalesce(array_agg(name), '{}') INTO namespaces, names FROM due;
  IF cardinality(names) = 0 THEN
    RETURN 0;
  END IF;
  WITH due AS (SELECT * FROM unnest(namespaces, names) AS d(namespace, name)),
  gone AS (
    DELETE FROM resources r USING due d
    WHERE r.cluster = 'atoll.hub' AND r.uid = 'binding/' || d.namespace || '/' || d.name
      AND NOT EXISTS (SELECT 1 FROM bindings b WHERE b.namespace = d.namespace AND b.name = d.name))
  INSERT INTO resources (cluster, uid, api_group, api_version, kind, resource, namespace, name, labels,
    annotations, owner_refs, resource_version, created_at, object, sync_id)
  SELECT 'atoll.hub', 'binding/' || n.namespace || '/' || n.name, 'work.karmada.io', 'v1alpha2',
    'ResourceBinding', 'resourcebindings', n.namespace, n.name, '{}'::jsonb,
    jsonb_build_object('atoll.dev/policy', n.policy), '[]'::jsonb,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, coalesce(n.scheduled_at, now()),
    jsonb_set(atoll_binding_object(n), '{metadata,creationTimestamp}',
      to_jsonb(to_char(coalesce(n.scheduled_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), ''
  FROM bindings n JOIN due d ON d.namespace = n.namespace AND d.name = n.name
  ORDER BY n.namespace, n.name
  ON CONFLICT (cluster, uid) DO UPDATE SET api_version = excluded.api_version,
    annotations = excluded.annotations, resource_version = excluded.resource_version,
    object = jsonb_set(excluded.object, '{metadata,creationTimestamp}',
      to_jsonb(to_char(coalesce(resources.created_at, excluded.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
    indexed_at = now();
  RETURN cardinality(names);
END $$;
