-- The evidence ledger is append-only in the database itself, for every role including the
-- table's owner: evidence that the application could rewrite would not be evidence.
CREATE FUNCTION evidence_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'evidence_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER evidence_events_no_update_delete BEFORE UPDATE OR DELETE ON evidence_events
  FOR EACH ROW EXECUTE FUNCTION evidence_events_refuse_change();
--> statement-breakpoint
CREATE TRIGGER evidence_events_no_truncate BEFORE TRUNCATE ON evidence_events
  FOR EACH STATEMENT EXECUTE FUNCTION evidence_events_refuse_change();
