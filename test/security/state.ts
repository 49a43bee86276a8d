/**
 * "No state changed", for the attack suite: every table of the broker's schema read
 * in full, each row as PostgreSQL's own text form, sorted, so that two readings
 * compare equal exactly when no row was inserted, updated or deleted.
 *
 * This is the only file of test/security that reads tables directly, through the
 * owner's handle: the app's own sees one tenant's rows, and only inside a transaction
 * that names it (row-level security, src/db/tenancy.ts).
 *
 * Tables left out by default, because a refused request writes them by design:
 * - client_assertion_jtis: client authentication spends its assertion's jti before
 *   the endpoint looks at the request (RFC 7523 §3 replay cache), so every refusal
 *   after authentication leaves one row — the attacker's own assertion, not state.
 * - dpop_proof_jtis: a proof whose signature holds is remembered before the grant
 *   judges it (RFC 9449 §11.1), for the same reason.
 * - rate_limits: the rate limits count every request to the CIBA and token endpoints
 *   before anything else happens (src/ratelimit/guard.ts), refused ones included; the
 *   counters are the limiter's, not the broker's state (test/security/rate-limits.test.ts
 *   checks them).
 * And one a case may leave out, saying so:
 * - status_lists: a tenant's first mint in a process reserves a block of positions
 *   before the grant is judged (src/revocation/status-index.ts); bounded to one block
 *   per tenant and process, whatever the number of refusals.
 * Cases that attack these caches themselves (replayed assertions and proofs) read
 * them with `replayRows`, and assert that the replay added nothing.
 */
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { TestApp } from '../helpers/app.ts';
import { rowsOf } from '../helpers/rows.ts';

export const REPLAY_CACHES = ['client_assertion_jtis', 'dpop_proof_jtis'] as const;
/** Written by every request to the CIBA and token endpoints, by design (see above). */
const RATE_COUNTERS = ['rate_limits'] as const;

export interface DigestOptions {
  /** Tables to leave out besides REPLAY_CACHES (say why at the call). */
  ignore?: readonly string[];
  /** Include the replay caches too. */
  withReplayCaches?: boolean;
}

/** The broker's tables (the public schema; drizzle's own bookkeeping lives elsewhere). */
async function tableNames(t: TestApp): Promise<string[]> {
  const result = await t.owner.execute(
    sql`select table_name as name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  return rowsOf<{ name: string }>(result).map((r) => r.name);
}

/** One table's rows as text, sorted. */
async function tableRows(t: TestApp, table: string): Promise<string[]> {
  const result = await t.owner.execute(
    sql`select r::text as row from ${sql.identifier(table)} r order by 1`,
  );
  return rowsOf<{ row: string }>(result).map((r) => r.row);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A canonical digest of the database: one line per table, `name rows sha256`, so a
 * failed comparison names the tables that changed and by how many rows.
 */
export async function stateDigest(t: TestApp, options: DigestOptions = {}): Promise<string> {
  const skip = new Set<string>([
    ...RATE_COUNTERS,
    ...(options.withReplayCaches ? [] : REPLAY_CACHES),
    ...(options.ignore ?? []),
  ]);
  const lines: string[] = [];
  for (const table of await tableNames(t)) {
    if (skip.has(table)) continue;
    const rows = await tableRows(t, table);
    lines.push(`${table} ${rows.length} ${await sha256Hex(rows.join('\n'))}`);
  }
  return lines.join('\n');
}

/** The rows of one replay cache, for the cases that attack it. */
export async function replayRows(
  t: TestApp,
  table: (typeof REPLAY_CACHES)[number],
): Promise<string[]> {
  return tableRows(t, table);
}

/**
 * Runs `attack` between two digests and asserts they are equal; returns what the
 * attack returned (usually the refusal, for the caller to check exactly).
 */
export async function withoutStateChange<T>(
  t: TestApp,
  attack: () => Promise<T>,
  options: DigestOptions = {},
): Promise<T> {
  const before = await stateDigest(t, options);
  const result = await attack();
  expect(await stateDigest(t, options), 'the refused request changed stored state').toBe(before);
  return result;
}
