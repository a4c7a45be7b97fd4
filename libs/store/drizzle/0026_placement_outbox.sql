-- The query service commits a template (or a policy), then publishes a placement request. One that
-- died in between left a template nobody would place: applying it again finds it unchanged and
-- asks for nothing. Each change now records the request it owes (placement_seq) in the same
-- statement, and the scheduler records the one it placed from (placed_seq); the scheduler asks
-- again for whatever stays owed once the placement queue is empty.
CREATE SEQUENCE "public"."placement_requests" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "placement_seq" bigint DEFAULT nextval('placement_requests') NOT NULL;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "placement_requested_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "placed_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "templates_unplaced" ON "templates" USING btree ("placement_requested_at") WHERE "templates"."placed_seq" <> "templates"."placement_seq";--> statement-breakpoint
UPDATE "templates" SET "placed_seq" = "placement_seq";