CREATE TABLE "step_up_pushes" (
	"request_id" integer NOT NULL,
	"approver" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "step_up_pushes_request_id_approver_pk" PRIMARY KEY("request_id","approver")
);
--> statement-breakpoint
ALTER TABLE "step_up_pushes" ADD CONSTRAINT "step_up_pushes_request_id_access_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."access_requests"("id") ON DELETE no action ON UPDATE no action;