ALTER TABLE "resources" drop column "search";--> statement-breakpoint
ALTER TABLE "resources" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple', translate("resources"."name" || ' ' || "resources"."namespace" || ' ' || "resources"."kind" || ' ' || "resources"."labels"::text || ' ' || "resources"."annotations"::text || ' ' || atoll_object_text("resources"."object"), '-./_:"{},=@[]', '             '))) STORED;--> statement-breakpoint
CREATE INDEX "resources_search_gin" ON "resources" USING gin ("search");
