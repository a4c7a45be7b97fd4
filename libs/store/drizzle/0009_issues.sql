CREATE TABLE "issues" (
	"cluster" text NOT NULL,
	"uid" text NOT NULL,
	"rule" text NOT NULL,
	"container" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"severity" text NOT NULL,
	"category" text NOT NULL,
	"message" text NOT NULL,
	"first_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "issues_cluster_uid_rule_container_pk" PRIMARY KEY("cluster","uid","rule","container")
);
--> statement-breakpoint
CREATE INDEX "issues_open" ON "issues" USING btree ("cluster","namespace","severity") WHERE resolved_at is null;