CREATE TABLE "human_tasks" (
	"id" serial PRIMARY KEY NOT NULL,
	"grant_id" integer NOT NULL,
	"action" text NOT NULL,
	"system" text NOT NULL,
	"owners" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"due_at" timestamp (3) with time zone NOT NULL,
	"reminded_at" timestamp (3) with time zone,
	"escalated_at" timestamp (3) with time zone,
	"done_by" text,
	"done_at" timestamp (3) with time zone,
	"note" text,
	"cards" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "human_tasks_grant_action_idx" ON "human_tasks" USING btree ("grant_id","action");--> statement-breakpoint
CREATE INDEX "human_tasks_open_idx" ON "human_tasks" USING btree ("done_at");