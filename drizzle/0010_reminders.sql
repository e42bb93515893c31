ALTER TABLE "access_requests" ADD COLUMN "approvers_reminded_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "end_reminded_for" timestamp (3) with time zone;