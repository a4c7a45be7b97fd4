CREATE TABLE "gateway_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"user" text NOT NULL,
	"role" text NOT NULL,
	"cluster" text NOT NULL,
	"method" text NOT NULL,
	"verb" text NOT NULL,
	"namespace" text DEFAULT '' NOT NULL,
	"resource" text DEFAULT '' NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"path" text NOT NULL,
	"code" integer NOT NULL,
	"request_id" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
ALTER TABLE "clusters" ADD COLUMN "gateway_impersonate" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "clusters" ADD COLUMN "gateway_read_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "gateway_audit_by_time" ON "gateway_audit" USING btree ("at");--> statement-breakpoint
CREATE INDEX "gateway_audit_by_cluster" ON "gateway_audit" USING btree ("cluster","at");