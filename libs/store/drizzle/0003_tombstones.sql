CREATE TABLE "resource_tombstones" (
	"cluster" text NOT NULL,
	"uid" text NOT NULL,
	"deleted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "resource_tombstones_cluster_uid_pk" PRIMARY KEY("cluster","uid")
);
--> statement-breakpoint
CREATE INDEX "resource_tombstones_deleted_at" ON "resource_tombstones" USING btree ("deleted_at");