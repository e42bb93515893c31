CREATE TABLE "evidence_events" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"subject" text,
	"resource" text,
	"request_id" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "evidence_events_prev_hash_unique" UNIQUE("prev_hash"),
	CONSTRAINT "evidence_events_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE INDEX "evidence_events_occurred_at_idx" ON "evidence_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "evidence_events_kind_idx" ON "evidence_events" USING btree ("kind");--> statement-breakpoint
CREATE INDEX "evidence_events_resource_idx" ON "evidence_events" USING btree ("resource");--> statement-breakpoint
CREATE INDEX "evidence_events_request_id_idx" ON "evidence_events" USING btree ("request_id");