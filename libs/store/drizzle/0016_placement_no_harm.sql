-- Placement that never does harm: one sequence numbers every work generation (an agent skips a
-- generation it has seen, so a re-applied template must never restart at 1), graceful eviction
-- tasks on bindings, and deletes that keep the member objects.
CREATE SEQUENCE "public"."work_generations" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
ALTER TABLE "bindings" ADD COLUMN "eviction_tasks" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "works" ADD COLUMN "preserve" boolean DEFAULT false NOT NULL;--> statement-breakpoint
SELECT setval('"public"."work_generations"', greatest((SELECT max("generation") FROM "works"), 0) + 1, false);
