CREATE TABLE "bindings" (
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"api_version" text NOT NULL,
	"kind" text NOT NULL,
	"template_name" text NOT NULL,
	"uid" text NOT NULL,
	"policy" text DEFAULT '' NOT NULL,
	"clusters" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"observed_affinity" text DEFAULT '' NOT NULL,
	"rejected" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"condition" text DEFAULT '' NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"generation" bigint DEFAULT 0 NOT NULL,
	"aggregated_status" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"scheduled_at" timestamp with time zone,
	CONSTRAINT "bindings_namespace_name_pk" PRIMARY KEY("namespace","name")
);
--> statement-breakpoint
CREATE TABLE "placement_policies" (
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"document" jsonb NOT NULL,
	"generation" bigint DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "placement_policies_kind_namespace_name_pk" PRIMARY KEY("kind","namespace","name")
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"api_version" text NOT NULL,
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"uid" text DEFAULT gen_random_uuid()::text NOT NULL,
	"document" jsonb NOT NULL,
	"generation" bigint DEFAULT 1 NOT NULL,
	"claimed_by" text DEFAULT '' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "templates_api_version_kind_namespace_name_pk" PRIMARY KEY("api_version","kind","namespace","name")
);
--> statement-breakpoint
CREATE TABLE "works" (
	"cluster" text NOT NULL,
	"binding_namespace" text NOT NULL,
	"binding_name" text NOT NULL,
	"generation" bigint NOT NULL,
	"manifests" jsonb NOT NULL,
	"action" text NOT NULL,
	"applied" boolean DEFAULT false NOT NULL,
	"status" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reported_generation" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "works_cluster_binding_namespace_binding_name_pk" PRIMARY KEY("cluster","binding_namespace","binding_name")
);
--> statement-breakpoint
CREATE INDEX "works_binding" ON "works" USING btree ("binding_namespace","binding_name");