ALTER TABLE "grants" ADD COLUMN "lease_holder" bigint;--> statement-breakpoint
ALTER TABLE "offboardings" ADD COLUMN "lease_holder" bigint;--> statement-breakpoint
ALTER TABLE "review_items" ADD COLUMN "revoke_lease_holder" bigint;