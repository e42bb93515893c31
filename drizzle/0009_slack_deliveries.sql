CREATE TABLE "slack_deliveries" (
	"key" text PRIMARY KEY NOT NULL,
	"seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "slack_deliveries_seen_at_idx" ON "slack_deliveries" USING btree ("seen_at");