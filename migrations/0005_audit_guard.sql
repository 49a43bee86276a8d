-- The ledger is append-only in the database itself (DESIGN.md, Policy and audit):
-- UPDATE, DELETE and TRUNCATE are refused on every ledger table and on policy bundles,
-- whoever asks. A superuser can still disable the triggers; audit verify catches that.
CREATE FUNCTION mandate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_links_append_only BEFORE UPDATE OR DELETE ON audit_links
  FOR EACH ROW EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_links_no_truncate BEFORE TRUNCATE ON audit_links
  FOR EACH STATEMENT EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER policy_bundles_append_only BEFORE UPDATE OR DELETE ON policy_bundles
  FOR EACH ROW EXECUTE FUNCTION mandate_append_only();
--> statement-breakpoint
CREATE TRIGGER policy_bundles_no_truncate BEFORE TRUNCATE ON policy_bundles
  FOR EACH STATEMENT EXECUTE FUNCTION mandate_append_only();
