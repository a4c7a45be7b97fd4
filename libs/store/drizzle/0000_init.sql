CREATE TABLE "clusters" (
	"name" text PRIMARY KEY NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"provider" text DEFAULT '' NOT NULL,
	"region" text DEFAULT '' NOT NULL,
	"zone" text DEFAULT '' NOT NULL,
	"sync_mode" text DEFAULT 'push' NOT NULL,
	"taints" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ready" boolean DEFAULT false NOT NULL,
	"kubernetes_version" text DEFAULT '' NOT NULL,
	"status" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_heartbeat" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resource_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"time" timestamp with time zone DEFAULT now() NOT NULL,
	"cluster" text NOT NULL,
	"uid" text NOT NULL,
	"api_group" text NOT NULL,
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"change_type" text NOT NULL,
	"resource_version" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"cluster" text NOT NULL,
	"uid" text NOT NULL,
	"api_group" text NOT NULL,
	"api_version" text NOT NULL,
	"kind" text NOT NULL,
	"resource" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"owner_refs" jsonb NOT NULL,
	"resource_version" bigint NOT NULL,
	"created_at" timestamp with time zone,
	"indexed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"object" jsonb NOT NULL,
	"sync_id" text DEFAULT '' NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple', "resources"."name" || ' ' || "resources"."namespace" || ' ' || "resources"."kind") || jsonb_to_tsvector('simple', "resources"."labels", '["key", "string"]') || jsonb_to_tsvector('simple', "resources"."annotations", '["string"]')) STORED,
	CONSTRAINT "resources_cluster_uid_pk" PRIMARY KEY("cluster","uid")
);
--> statement-breakpoint
CREATE INDEX "resource_changes_time" ON "resource_changes" USING btree ("time");--> statement-breakpoint
CREATE INDEX "resource_changes_object" ON "resource_changes" USING btree ("cluster","uid");--> statement-breakpoint
CREATE INDEX "resources_labels_gin" ON "resources" USING gin ("labels");--> statement-breakpoint
CREATE INDEX "resources_kind_ns_name" ON "resources" USING btree ("kind","namespace","name");--> statement-breakpoint
CREATE INDEX "resources_cluster_kind_ns_name" ON "resources" USING btree ("cluster","kind","namespace","name");--> statement-breakpoint
CREATE INDEX "resources_sweep" ON "resources" USING btree ("cluster","api_group","resource","sync_id");--> statement-breakpoint
CREATE INDEX "resources_search_gin" ON "resources" USING gin ("search");