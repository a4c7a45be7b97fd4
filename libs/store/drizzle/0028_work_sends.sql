-- Works were marked sent one by one once on the bus, which wrote every work row (manifests and
-- all) a second time: as much as saving it. The outbox is now one row per transaction that
-- changed works, deleted once they are published; the relay publishes what is left of it.
CREATE TABLE "work_sends" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"works" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Works committed and not yet published when the hub was upgraded: the relay sends them.
INSERT INTO work_sends (works)
SELECT jsonb_agg(jsonb_build_object('cluster', cluster, 'namespace', binding_namespace, 'name', binding_name))
FROM works WHERE sent_generation < generation HAVING count(*) > 0;--> statement-breakpoint
DROP INDEX "works_unsent";--> statement-breakpoint
ALTER TABLE "works" DROP COLUMN "sent_generation";