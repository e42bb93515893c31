CREATE TABLE "ledger_head" (
	"single" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL,
	"prev_hash" text NOT NULL,
	CONSTRAINT "ledger_head_single_row" CHECK ("ledger_head"."single")
);
--> statement-breakpoint
-- The head of a ledger that already has events is its newest event; an empty ledger's is the genesis hash.
INSERT INTO "ledger_head" ("single", "seq", "hash", "prev_hash")
SELECT true, coalesce(last.seq, 0), coalesce(last.hash, repeat('0', 64)), coalesce(last.prev_hash, '')
FROM (SELECT 1) AS one
LEFT JOIN (SELECT seq, hash, prev_hash FROM "evidence_events" ORDER BY seq DESC LIMIT 1) AS last ON true;
