CREATE TABLE "inventory_listings" (
	"id" serial PRIMARY KEY NOT NULL,
	"resource" text NOT NULL,
	"provider" text NOT NULL,
	"covered_from" timestamp (3) with time zone NOT NULL,
	"covered_to" timestamp (3) with time zone NOT NULL,
	"listings" integer DEFAULT 1 NOT NULL,
	"holders" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "inventory_listings_resource_idx" ON "inventory_listings" USING btree ("resource","covered_to");