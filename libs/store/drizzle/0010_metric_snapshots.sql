CREATE TABLE "metric_snapshots" (
	"time" timestamp with time zone DEFAULT now() NOT NULL,
	"metric" text NOT NULL,
	"cluster" text NOT NULL,
	"namespace" text DEFAULT '' NOT NULL,
	"kind" text DEFAULT '' NOT NULL,
	"severity" text DEFAULT '' NOT NULL,
	"value" double precision NOT NULL
);
--> statement-breakpoint
CREATE INDEX "metric_snapshots_time" ON "metric_snapshots" USING btree ("metric","time");