ALTER TABLE "resource_tombstones" ADD COLUMN "resource_version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "resource_tombstones" ADD COLUMN "sync_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Tombstones from before their order was kept: placed at their deletion time, so lists that
-- started earlier stay outvoted and lists that started later bring a wrongly deleted object back.
UPDATE "resource_tombstones" SET "sync_id" = lpad((extract(epoch from "deleted_at") * 1000)::bigint::text, 15, '0') || '-ffffffff';
