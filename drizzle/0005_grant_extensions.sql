ALTER TABLE "access_requests" ADD COLUMN "outcome_reason" text;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "extension_request_id" integer;