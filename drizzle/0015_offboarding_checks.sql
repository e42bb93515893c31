CREATE TABLE "offboardings" (
	"id" serial PRIMARY KEY NOT NULL,
	"detected_seq" bigint NOT NULL,
	"subject" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"next_check_at" timestamp (3) with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"checked_at" timestamp (3) with time zone,
	"systems" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"held" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "offboardings_detected_seq_unique" UNIQUE("detected_seq")
);
--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "principal_id" text;--> statement-breakpoint
CREATE INDEX "offboardings_due_idx" ON "offboardings" USING btree ("state","next_check_at");