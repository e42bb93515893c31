CREATE TABLE "people" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"name_source" text,
	"manager" text,
	"status" text DEFAULT 'unknown' NOT NULL,
	"statuses" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"first_seen_at" timestamp (3) with time zone NOT NULL,
	"deactivated_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "person_aliases" (
	"id" serial PRIMARY KEY NOT NULL,
	"person_id" text NOT NULL,
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"key" text NOT NULL,
	"first_seen_at" timestamp (3) with time zone NOT NULL,
	"replaced_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "person_aliases" ADD CONSTRAINT "person_aliases_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "person_aliases_current_key_idx" ON "person_aliases" USING btree ("kind","key") WHERE "person_aliases"."replaced_at" is null;--> statement-breakpoint
CREATE INDEX "person_aliases_key_idx" ON "person_aliases" USING btree ("key");--> statement-breakpoint
CREATE INDEX "person_aliases_person_idx" ON "person_aliases" USING btree ("person_id");