-- Status search covers every reason a status gives, whatever its case: kubectl shows a pod that
-- cannot be scheduled (PodScheduled=False, reason Unschedulable) and a container restarted after
-- OOMKilled (its lastState) by those words, and users type them in any case.
CREATE OR REPLACE FUNCTION atoll_status_reasons(object jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_agg(DISTINCT lower(reason)), '[]'::jsonb)
  FROM jsonb_array_elements_text(
    jsonb_path_query_array(object, 'lax $.status.phase ? (@.type() == "string")')
    || jsonb_path_query_array(object, 'lax $.status.reason ? (@.type() == "string")')
    || jsonb_path_query_array(object, 'lax $.status.conditions[*].reason ? (@.type() == "string")')
    || jsonb_path_query_array(object, 'lax $.status.containerStatuses[*].state.*.reason ? (@.type() == "string")')
    || jsonb_path_query_array(object, 'lax $.status.containerStatuses[*].lastState.*.reason ? (@.type() == "string")')
    || jsonb_path_query_array(object, 'lax $.status.initContainerStatuses[*].state.*.reason ? (@.type() == "string")')
  ) AS reason
$$;
--> statement-breakpoint
ALTER TABLE "resources" DROP COLUMN "status_reasons";--> statement-breakpoint
ALTER TABLE "resources" ADD COLUMN "status_reasons" jsonb GENERATED ALWAYS AS (atoll_status_reasons("resources"."object")) STORED;--> statement-breakpoint
CREATE INDEX "resources_status_reasons_gin" ON "resources" USING gin ("status_reasons");
