-- Free words also match the object's own text (images, commands, env values, status and event
-- messages). The indexer tokenizes it (objectWords) and writes the words; objects indexed before
-- this migration gain theirs when they next change or are next listed in full.
ALTER TABLE "resources" ADD COLUMN "object_words" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "resources" drop column "search";--> statement-breakpoint
ALTER TABLE "resources" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple', translate("resources"."name" || ' ' || "resources"."namespace" || ' ' || "resources"."kind" || ' ' || "resources"."labels"::text || ' ' || "resources"."annotations"::text, '-./_:"{},=', '          ')) || array_to_tsvector("resources"."object_words")) STORED;--> statement-breakpoint
CREATE INDEX "resources_search_gin" ON "resources" USING gin ("search");
