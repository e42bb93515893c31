CREATE TABLE "review_campaigns" (
	"id" serial PRIMARY KEY NOT NULL,
	"period" text NOT NULL,
	"scope" jsonb NOT NULL,
	"scope_key" text NOT NULL,
	"trigger" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"state" text NOT NULL,
	"build_token" text,
	"build_lease_until" timestamp (3) with time zone,
	"build_attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"build_alerted_at" timestamp (3) with time zone,
	"config_hash" text,
	"targets" jsonb,
	"opened_at" timestamp (3) with time zone,
	"due_at" timestamp (3) with time zone,
	"closed_at" timestamp (3) with time zone,
	"population_hash" text,
	"item_count" integer
);
--> statement-breakpoint
CREATE TABLE "review_cards" (
	"id" serial PRIMARY KEY NOT NULL,
	"campaign_id" integer NOT NULL,
	"audience" text NOT NULL,
	"recipient" text NOT NULL,
	"escalate_to" text,
	"page" integer DEFAULT 0 NOT NULL,
	"channel" text,
	"ts" text,
	"signed_off_by" text,
	"signed_off_at" timestamp (3) with time zone,
	"reminded_at" timestamp (3) with time zone,
	"reminders" integer DEFAULT 0 NOT NULL,
	"escalated_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "review_items" (
	"id" serial PRIMARY KEY NOT NULL,
	"campaign_id" integer NOT NULL,
	"card_id" integer,
	"resource" text NOT NULL,
	"principal" text NOT NULL,
	"email" text,
	"person_name" text,
	"person_slack" text,
	"directory_id" text,
	"grant_id" integer,
	"request_id" integer,
	"since" timestamp (3) with time zone,
	"since_source" text,
	"is_new" boolean,
	"route" text NOT NULL,
	"route_note" text,
	"decision" text,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"revoke_state" text,
	"revoke_attempts" integer DEFAULT 0 NOT NULL,
	"revoke_next_at" timestamp (3) with time zone,
	"revoke_error" text,
	"revoke_alerted_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	"revoke_verified" boolean
);
--> statement-breakpoint
CREATE TABLE "review_schedules" (
	"schedule" text PRIMARY KEY NOT NULL,
	"next_at" timestamp (3) with time zone NOT NULL,
	"armed_at" timestamp (3) with time zone NOT NULL,
	"last_fired_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "review_cards" ADD CONSTRAINT "review_cards_campaign_id_review_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."review_campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_items" ADD CONSTRAINT "review_items_campaign_id_review_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."review_campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_items" ADD CONSTRAINT "review_items_card_id_review_cards_id_fk" FOREIGN KEY ("card_id") REFERENCES "public"."review_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "review_campaigns_period_scope_idx" ON "review_campaigns" USING btree ("period","scope_key");--> statement-breakpoint
CREATE INDEX "review_campaigns_state_idx" ON "review_campaigns" USING btree ("state");--> statement-breakpoint
CREATE UNIQUE INDEX "review_cards_recipient_idx" ON "review_cards" USING btree ("campaign_id","recipient");--> statement-breakpoint
CREATE INDEX "review_cards_reviewer_idx" ON "review_cards" USING btree ("recipient");--> statement-breakpoint
CREATE UNIQUE INDEX "review_items_once_idx" ON "review_items" USING btree ("campaign_id","resource","principal");--> statement-breakpoint
CREATE INDEX "review_items_card_idx" ON "review_items" USING btree ("card_id");--> statement-breakpoint
CREATE INDEX "review_items_revoke_idx" ON "review_items" USING btree ("revoke_state","revoke_next_at");