-- Tenant isolation in the database itself (issue 7, DESIGN.md "Every row belongs to one tenant").
--
-- The broker never runs as the tables' owner. Its connections act as mandate_app, a role
-- without LOGIN that owns nothing; every tenant-owned table has row-level security,
-- enabled and forced, with one policy: a row is visible and writable only when its
-- tenant_id is the tenant the transaction named with
--   select set_config('mandate.tenant_id', '<uuid>', true)
-- (src/db/tenancy.ts). A transaction that named no tenant sees no tenant's rows.
--
-- Some identifiers arrive before the tenant is known (a client_id, a session cookie, an
-- invite link, a passkey's credential id, a status list's id). For each there is one
-- SECURITY DEFINER function, owned by mandate_lookup, that answers the exact identifier
-- and nothing else. mandate_lookup has no LOGIN, only SELECT, and nobody is a member of it.
--
-- Roles are cluster-wide: created once, tolerated when another database (or a concurrent
-- migration) created them first. A deployment whose migration role may not create roles
-- creates these two beforehand.
DO $$
BEGIN
  CREATE ROLE mandate_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
--> statement-breakpoint
DO $$
BEGIN
  CREATE ROLE mandate_lookup NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO mandate_app, mandate_lookup;
--> statement-breakpoint
-- mandate_lookup owns the lookup functions below (ALTER FUNCTION ... OWNER needs CREATE).
GRANT CREATE ON SCHEMA public TO mandate_lookup;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON
  users, invites, clients, apis, api_scopes, issued_tokens, overrun_attempts,
  ciba_requests, grants, status_lists, revocation_events, passkeys, webauthn_challenges,
  sessions, signing_keys, client_assertion_jtis, dpop_proof_jtis, rate_limits
  TO mandate_app;
--> statement-breakpoint
-- The ledger and policy bundles are append-only (0005): no UPDATE or DELETE to grant.
GRANT SELECT, INSERT ON audit_entries, audit_links, audit_checkpoints, policy_bundles TO mandate_app;
--> statement-breakpoint
-- Tenants are created by the operator; a tenant's own row is the only one it may change.
GRANT SELECT, INSERT, UPDATE ON tenants TO mandate_app;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mandate_app;
--> statement-breakpoint
-- The broker checks at start-up that every migration is applied (src/db/postgres.ts).
GRANT USAGE ON SCHEMA drizzle TO mandate_app;
--> statement-breakpoint
GRANT SELECT ON drizzle.__drizzle_migrations TO mandate_app;
--> statement-breakpoint
GRANT SELECT ON clients, sessions, invites, passkeys, status_lists, audit_entries, audit_links,
  revocation_events TO mandate_lookup;
--> statement-breakpoint
-- The transaction's tenant; null when none was named. A custom setting reads '' once a
-- transaction that set it locally has ended, hence nullif. Inlined by the planner, so
-- `tenant_id = mandate_tenant()` can drive an index scan.
CREATE FUNCTION mandate_tenant() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('mandate.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE users FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON users
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE invites ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE invites FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON invites
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON clients
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE apis ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE apis FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON apis
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE api_scopes ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE api_scopes FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON api_scopes
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE issued_tokens ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE issued_tokens FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON issued_tokens
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE overrun_attempts ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE overrun_attempts FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON overrun_attempts
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON audit_entries
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE audit_links ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_links FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON audit_links
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON audit_checkpoints
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE policy_bundles ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE policy_bundles FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON policy_bundles
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE ciba_requests ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE ciba_requests FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON ciba_requests
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE grants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE grants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON grants
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE status_lists ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE status_lists FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON status_lists
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE revocation_events ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE revocation_events FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON revocation_events
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE passkeys ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE passkeys FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON passkeys
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON sessions
  USING (tenant_id = mandate_tenant()) WITH CHECK (tenant_id = mandate_tenant());
--> statement-breakpoint
-- A discoverable sign-in's challenge names no tenant until the person answers: such
-- rows carry nothing of any tenant, and are consumed by their random id.
ALTER TABLE webauthn_challenges ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE webauthn_challenges FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON webauthn_challenges
  USING (tenant_id IS NULL OR tenant_id = mandate_tenant())
  WITH CHECK (tenant_id IS NULL OR tenant_id = mandate_tenant());
--> statement-breakpoint
-- Every tenant's row is readable (the operator lists tenants and resolves slugs, the
-- chainer walks them); a tenant may change only its own, and may create tenants.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenants_readable ON tenants FOR SELECT USING (true);
--> statement-breakpoint
CREATE POLICY tenants_created ON tenants FOR INSERT WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY tenants_own ON tenants FOR UPDATE
  USING (id = mandate_tenant()) WITH CHECK (id = mandate_tenant());
--> statement-breakpoint
-- The lookups: mandate_lookup reads every row of these tables, but only inside the
-- functions it owns, whose queries name one exact identifier.
CREATE POLICY lookup ON clients FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON sessions FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON invites FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON passkeys FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON status_lists FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON audit_entries FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON audit_links FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
CREATE POLICY lookup ON revocation_events FOR SELECT TO mandate_lookup USING (true);
--> statement-breakpoint
-- Client authentication: the client a client_id names (its keys are public anyway).
CREATE FUNCTION mandate_client(p_id text) RETURNS SETOF clients
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT * FROM clients WHERE id = p_id $$;
--> statement-breakpoint
-- The tenant of a session cookie, an invite link or a status list, each by its key.
CREATE FUNCTION mandate_session_tenant(p_id_hash text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM sessions WHERE id_hash = p_id_hash $$;
--> statement-breakpoint
CREATE FUNCTION mandate_invite_tenant(p_token_hash text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM invites WHERE token_hash = p_token_hash $$;
--> statement-breakpoint
CREATE FUNCTION mandate_passkey_tenant(p_credential_id text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM passkeys WHERE id = p_credential_id $$;
--> statement-breakpoint
CREATE FUNCTION mandate_status_list_tenant(p_id uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM status_lists WHERE id = p_id $$;
--> statement-breakpoint
-- The chainer's pass over all tenants (src/audit/chain.ts): the lower bound (the highest
-- entry linked at least p_lookback_secs before the newest link; 0 for a null lookback)
-- and the tenants with entries above it that no link names. Tenant ids and a number only.
CREATE FUNCTION mandate_audit_pending(p_lookback_secs float8)
  RETURNS TABLE (tenant_id uuid, after_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    WITH bound AS (
      SELECT CASE WHEN p_lookback_secs IS NULL THEN 0 ELSE coalesce((
        SELECT l.entry_id FROM audit_links l
        WHERE l.chained_at <= (SELECT n.chained_at FROM audit_links n ORDER BY n.entry_id DESC LIMIT 1)
          - make_interval(secs => p_lookback_secs)
        ORDER BY l.entry_id DESC LIMIT 1), 0) END AS after_id
    )
    SELECT DISTINCT e.tenant_id, bound.after_id FROM audit_entries e, bound
    WHERE e.id > bound.after_id
      AND NOT EXISTS (SELECT 1 FROM audit_links k WHERE k.entry_id = e.id)
  $$;
--> statement-breakpoint
-- The revocation feed (src/revocation/feed.ts) reads events in commit order across
-- tenants and hands each only to the streams of its own tenant and audience.
CREATE FUNCTION mandate_revocation_events_after(p_after bigint, p_limit integer)
  RETURNS SETOF revocation_events
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT * FROM revocation_events WHERE id > p_after ORDER BY id LIMIT p_limit $$;
--> statement-breakpoint
CREATE FUNCTION mandate_revocation_events_last() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT coalesce(max(id), 0) FROM revocation_events $$;
--> statement-breakpoint
ALTER FUNCTION mandate_client(text) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_session_tenant(text) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_invite_tenant(text) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_passkey_tenant(text) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_status_list_tenant(uuid) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_audit_pending(float8) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_revocation_events_after(bigint, integer) OWNER TO mandate_lookup;
--> statement-breakpoint
ALTER FUNCTION mandate_revocation_events_last() OWNER TO mandate_lookup;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM mandate_lookup;
