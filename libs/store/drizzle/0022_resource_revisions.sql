CREATE SEQUENCE "public"."resource_revisions" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 4503599627370496 CACHE 1;--> statement-breakpoint
ALTER TABLE "resource_tombstones" ADD COLUMN "revision" bigint DEFAULT nextval('resource_revisions') NOT NULL;--> statement-breakpoint
ALTER TABLE "resources" ADD COLUMN "revision" bigint DEFAULT nextval('resource_revisions') NOT NULL;