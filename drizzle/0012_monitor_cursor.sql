CREATE TABLE "monitor_cursor" (
	"single" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "monitor_cursor_single_row" CHECK ("monitor_cursor"."single")
);
--> statement-breakpoint
INSERT INTO "monitor_cursor" ("single", "seq") SELECT true, coalesce(max("seq"), 0) FROM "evidence_events";
