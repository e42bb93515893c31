CREATE TABLE "policy_versions" (
	"hash" text PRIMARY KEY NOT NULL,
	"text" text NOT NULL,
	"first_loaded_at" timestamp (3) with time zone NOT NULL
);
