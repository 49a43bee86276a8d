/**
 * Bulk history for the scale benchmark (BENCH_SCALE in bench/http.ts): generated in SQL
 * with generate_series, as the tables' owner, not through HTTP. Into the bench's own
 * tenant, beside the bench agent:
 *
 * - `agents` more agents;
 * - `grants` grants (each with the approved CIBA request it came from), over 30 days;
 * - `tokens` recorded tokens over those grants and agents, issued over the last 30 days
 *   and long expired, 1 % of them revoked, each with its position in one of the tenant's
 *   full status lists;
 * - one ledger entry and its chain link per token, with the chain's sequence continuing
 *   where the bench's own entries end (hashes are random: size, not verification, is
 *   what this measures).
 *
 * Rows are inserted in batches so that progress shows; ANALYZE runs at the end, as
 * autovacuum would after a bulk load.
 */
import postgres from 'postgres';

export interface ScaleSpec {
  tenantId: string;
  userId: string;
  audience: string;
  agents: number;
  grants: number;
  tokens: number;
  /** Entries per status list (the broker's MANDATE_STATUS_LIST_SIZE). */
  listSize: number;
}

const BATCH = 1_000_000;

export async function seedScale(ownerUrl: string, s: ScaleSpec, log: (m: string) => void) {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  const started = Date.now();
  const step = async (what: string, run: () => Promise<unknown>) => {
    const t = Date.now();
    await run();
    log(`  ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  try {
    await step(
      `${s.agents} agents`,
      () => sql`
      insert into clients (id, tenant_id, kind, name, jwks, status)
      select 'agent_seed_' || n, ${s.tenantId}, 'agent', 'Seeded agent ' || n, '{"keys":[]}'::jsonb, 'active'
      from generate_series(0, ${s.agents - 1}::int) n`,
    );
    for (let from = 0; from < s.grants; from += BATCH) {
      const to = Math.min(s.grants, from + BATCH) - 1;
      await step(`grants ${from}..${to}`, async () => {
        await sql`
          insert into ciba_requests (id, auth_req_id_hash, tenant_id, client_id, user_id, requested,
            status, poll_interval, expires_at, decided_at, grant_id, redeemed_at, created_at)
          select md5('r' || n)::uuid, 'seed-' || n, ${s.tenantId}, 'agent_seed_' || (n % ${s.agents}::int),
            ${s.userId}, ${sql.json([{ resource: s.audience, scopes: ['repo:read'] }])},
            'approved', 5, t + interval '10 minutes', t, md5('g' || n)::uuid, t, t
          from generate_series(${from}::int, ${to}::int) n,
            lateral (select now() - (n % 2592000) * interval '1 second' as t) at`;
        await sql`
          insert into grants (id, tenant_id, user_id, client_id, request_id, resources, handle_hash,
            max_token_ttl, status, evidence, created_at, expires_at)
          select md5('g' || n)::uuid, ${s.tenantId}, ${s.userId}, 'agent_seed_' || (n % ${s.agents}::int),
            md5('r' || n)::uuid, ${sql.json([{ resource: s.audience, scopes: ['repo:read'] }])},
            'seed-' || n, 300, 'active', '{}'::jsonb, t, t + interval '1 day'
          from generate_series(${from}::int, ${to}::int) n,
            lateral (select now() - (n % 2592000) * interval '1 second' as t) at`;
      });
    }
    const lists = Math.ceil(s.tokens / s.listSize);
    const [{ next } = { next: 1 }] = await sql<{ next: number }[]>`
      select coalesce(max(number), 0) + 1 as next from status_lists where tenant_id = ${s.tenantId}`;
    await step(
      `${lists} full status lists`,
      () => sql`
      insert into status_lists (id, tenant_id, number, capacity, allocated)
      select md5('l' || n)::uuid, ${s.tenantId}, ${next}::int + n, ${s.listSize}::int, ${s.listSize}::int
      from generate_series(0, ${lists - 1}::int) n`,
    );
    const [{ seq } = { seq: 0 }] = await sql<{ seq: number }[]>`
      select coalesce(max(seq), 0)::int as seq from audit_links where tenant_id = ${s.tenantId}`;
    for (let from = 0; from < s.tokens; from += BATCH) {
      const to = Math.min(s.tokens, from + BATCH) - 1;
      await step(`tokens ${from}..${to}`, async () => {
        await sql`
          insert into issued_tokens (jti, tenant_id, grant_id, client_id, audience, scope, task,
            issued_at, expires_at, revoked_at, created_at, status_list_id, status_idx)
          select 'seed-' || n, ${s.tenantId}, md5('g' || (n % ${s.grants}::int))::uuid,
            'agent_seed_' || (n % ${s.grants}::int % ${s.agents}::int), ${s.audience}, 'repo:read',
            jsonb_build_object('id', 'seed-task-' || n), t, t + interval '5 minutes',
            case when n % 100 = 0 then t + interval '1 minute' end, t,
            md5('l' || (n / ${s.listSize}::int))::uuid, n % ${s.listSize}::int
          from generate_series(${from}::int, ${to}::int) n,
            lateral (select now() - interval '1 hour' - (n % 2592000) * interval '1 second' as t) at`;
        await sql`
          with entries as (
            insert into audit_entries (tenant_id, at, action, actor, subject, decision, inputs, content_hash)
            select ${s.tenantId}, now() - interval '1 hour' - (n % 2592000) * interval '1 second',
              'token.mint', 'agent_seed_' || (n % ${s.agents}::int), 'seed-' || n, 'ALLOW',
              jsonb_build_object('scope', 'repo:read', 'audience', ${s.audience}::text),
              encode(sha256(('e' || n)::bytea), 'base64')
            from generate_series(${from}::int, ${to}::int) n
            returning id
          )
          insert into audit_links (tenant_id, seq, entry_id, prev_hash, hash, chained_at)
          select ${s.tenantId}, ${seq + from}::bigint + row_number() over (order by id), id,
            encode(sha256(('p' || id)::bytea), 'base64'), encode(sha256(('h' || id)::bytea), 'base64'),
            now() - interval '1 hour'
          from entries`;
      });
    }
    await step('analyze', () => sql`analyze`);
    log(`seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await sql.end();
  }
}

/** What the scale run reports: the tables' sizes on disk, indexes included. */
export async function tableSizes(ownerUrl: string): Promise<Record<string, string>> {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ name: string; size: string }[]>`
      select relname as name, pg_size_pretty(pg_total_relation_size(c.oid)) as size
      from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
      where ns.nspname = 'public' and c.relkind = 'r'
        and relname in ('grants', 'ciba_requests', 'issued_tokens', 'audit_entries', 'audit_links', 'status_lists')
      union all select 'database', pg_size_pretty(pg_database_size(current_database()))`;
    return Object.fromEntries(rows.map((r) => [r.name, r.size]));
  } finally {
    await sql.end();
  }
}
