CREATE TABLE "access_requests" (
	"id" serial PRIMARY KEY NOT NULL,
	"requester" text NOT NULL,
	"requester_email" text NOT NULL,
	"resource" text NOT NULL,
	"duration_ms" bigint NOT NULL,
	"reason" text NOT NULL,
	"ticket" text,
	"kind" text NOT NULL,
	"extends_grant_id" integer,
	"state" text NOT NULL,
	"approvals_required" integer NOT NULL,
	"approvers" jsonb NOT NULL,
	"config_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"pending_until" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"decided_by" text,
	"deny_reason" text
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" serial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"text" text NOT NULL,
	"request_id" integer,
	"grant_id" integer,
	"created_at" timestamp (3) with time zone NOT NULL,
	"channel" text,
	"ts" text,
	"acknowledged_by" text,
	"acknowledged_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"id" serial PRIMARY KEY NOT NULL,
	"request_id" integer NOT NULL,
	"person" text NOT NULL,
	"email" text NOT NULL,
	"aws_iam_user" text,
	"resource" text NOT NULL,
	"target" jsonb NOT NULL,
	"state" text NOT NULL,
	"emergency" boolean DEFAULT false NOT NULL,
	"starts_at" timestamp (3) with time zone,
	"ends_at" timestamp (3) with time zone NOT NULL,
	"revoke_reason" text,
	"revoke_requested_by" text,
	"next_attempt_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"failure_alerted_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	"reviewed_by" text,
	"reviewed_at" timestamp (3) with time zone,
	"escalated_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "grants_request_id_unique" UNIQUE("request_id")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" serial PRIMARY KEY NOT NULL,
	"message" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"not_before" timestamp (3) with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"sent_at" timestamp (3) with time zone,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "request_approvals" (
	"request_id" integer NOT NULL,
	"approver" text NOT NULL,
	"approved_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "request_approvals_request_id_approver_pk" PRIMARY KEY("request_id","approver")
);
--> statement-breakpoint
CREATE TABLE "slack_messages" (
	"id" serial PRIMARY KEY NOT NULL,
	"request_id" integer NOT NULL,
	"purpose" text NOT NULL,
	"recipient" text NOT NULL,
	"channel" text NOT NULL,
	"ts" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_request_id_access_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."access_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "request_approvals" ADD CONSTRAINT "request_approvals_request_id_access_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."access_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_requests_state_idx" ON "access_requests" USING btree ("state","pending_until");--> statement-breakpoint
CREATE INDEX "access_requests_requester_idx" ON "access_requests" USING btree ("requester","created_at");--> statement-breakpoint
CREATE INDEX "grants_due_idx" ON "grants" USING btree ("state","ends_at");--> statement-breakpoint
CREATE INDEX "grants_person_idx" ON "grants" USING btree ("person","resource");--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox" USING btree ("sent_at","not_before");--> statement-breakpoint
CREATE UNIQUE INDEX "slack_messages_once_idx" ON "slack_messages" USING btree ("request_id","purpose","recipient");