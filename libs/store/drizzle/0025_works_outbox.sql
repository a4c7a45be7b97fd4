-- A work is committed, then published. A scheduler that stopped in between left a work nobody
-- would publish: an unchanged decision sends nothing, and a deleted template's binding is gone.
-- sent_generation records what reached the bus; the scheduler publishes whatever lags behind.
ALTER TABLE "works" ADD COLUMN "sent_generation" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "works_unsent" ON "works" USING btree ("cluster") WHERE "works"."sent_generation" < "works"."generation";--> statement-breakpoint
UPDATE "works" SET "sent_generation" = "generation";
