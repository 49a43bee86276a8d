/**
 * The race (issue 7): a grant revoked while its agent's mints are in flight never lets a
 * token minted after the revocation commits come out valid.
 *
 * Each round gives Ada's release bot a fresh grant, starts LOOPS concurrent loops of
 * per-task mints on it, and revokes the grant in their midst — by the person's path
 * (revokeGrant, what the dashboard's Revoke button runs) or the agent's (RFC 7009 on
 * the grant handle), in turn. Then:
 * - every mint sent after the revocation returned (so after its commit) was refused
 *   with invalid_grant;
 * - every token any loop received is inactive, by introspection (RFC 7662) and by its
 *   bit in the signed status list, which reads only the token's own row;
 * - every token recorded under the grant is marked revoked, and the revocation's ledger
 *   entry counted all of them: none was recorded after its UPDATE looked (mints read the
 *   grant FOR SHARE inside their transaction, so the revocation waits for those in flight,
 *   and those after it see the grant revoked).
 * On both drivers; PostgreSQL interleaves the transactions for real.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeGrant } from '../../src/delegation/grants.ts';
import { REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  introspect,
  mint,
  redeemedGrant,
  revoke,
  type TaskWorld,
} from '../oauth/task-world.ts';
import { listStatus } from '../revocation/revocation-world.ts';
import { grantRevocation, sleep, startLoad, until, type MintOutcome } from './fault-load.ts';
import { tenantDb } from '../../src/db/tenancy.ts';

const ROUNDS = 6;
const LOOPS = 6;
const BOUND_MS = 10_000;
const INVALID_GRANT = {
  error: 'invalid_grant',
  error_description:
    'the grant handle is invalid, expired, revoked or was issued to another client',
};

let w: TaskWorld;
beforeAll(async () => {
  w = await createTaskWorld();
});
afterAll(async () => w.t.close());

interface Round {
  grantId: string;
  path: 'person' | 'agent';
  outcomes: MintOutcome[];
  /** performance.now() when the revocation was sent and when it had committed. */
  revokingAt: number;
  revokedAt: number;
  tokens: string[];
}

async function round(n: number): Promise<Round> {
  const grant = await redeemedGrant(w);
  const on: TaskWorld = { ...w, ...grant };
  const load = startLoad(() => mint(on, { resource: REPOS, scope: 'repo:read' }), {
    loops: LOOPS,
    boundMs: BOUND_MS,
    pauseMs: 0,
  });
  // A few mints first, then the revocation lands among those in flight.
  await until(() => load.successes() >= 4 + n, BOUND_MS, 'mints before the revocation');
  const path = n % 2 === 0 ? 'person' : 'agent';
  const revokingAt = performance.now();
  if (path === 'person') {
    const who = { tenantId: w.acme.tenantId, userId: w.acme.userId };
    expect(
      // As the dashboard does: in the person's tenant's scope.
      await revokeGrant(
        tenantDb(w.t.deps.database.db, who.tenantId),
        who,
        grant.grantId,
        'race',
        w.t.clock.now(),
      ),
    ).toBe(true);
  } else {
    expect((await revoke(w, w.acme.agent, grant.handle)).status).toBe(200);
  }
  const revokedAt = performance.now();
  await until(
    () => load.outcomes.filter((o) => o.sentAt > revokedAt).length >= 2 * LOOPS,
    BOUND_MS,
    'mints after the revocation',
  );
  await sleep(20);
  const outcomes = await load.stop();
  const tokens = outcomes.flatMap((o) =>
    o.status === 200 ? [(JSON.parse(o.body) as { access_token: string }).access_token] : [],
  );
  return { grantId: grant.grantId, path, outcomes, revokingAt, revokedAt, tokens };
}

describe('revoking a grant while its agent mints', () => {
  it('lets no token minted after the revocation commits come out valid, round after round', async () => {
    const report = [];
    for (let n = 0; n < ROUNDS; n++) {
      const r = await round(n);
      // After the revocation returned, nothing more: every such mint refused.
      const after = r.outcomes.filter((o) => o.sentAt > r.revokedAt);
      expect(after.length).toBeGreaterThan(0);
      for (const o of after) {
        expect({ status: o.status, body: JSON.parse(o.body) as unknown }).toEqual({
          status: 400,
          body: INVALID_GRANT,
        });
      }
      // Everything else answered either a token or the same refusal.
      for (const o of r.outcomes.filter((x) => x.status !== 200)) {
        expect(JSON.parse(o.body)).toEqual(INVALID_GRANT);
      }
      expect(r.outcomes.filter((o) => o.status === 0)).toEqual([]);

      // Every token received is dead, by introspection and by the status list.
      for (const token of r.tokens) {
        const res = await introspect(w, w.acme.api, token);
        expect(await res.json()).toEqual({ active: false });
        expect(await listStatus(w.t, token)).toBe(1);
      }

      // No token was recorded after the revocation's UPDATE looked for the grant's tokens.
      const { tokens, tokensRevoked } = await grantRevocation(w.t.owner, r.grantId);
      expect(tokens.filter((t) => !t.revoked)).toEqual([]);
      expect(tokensRevoked).toBe(tokens.length);
      const recorded = new Set(tokens.map((t) => t.jti));
      for (const token of r.tokens) expect(recorded.has(decodeJwt(token).jti ?? '')).toBe(true);

      report.push({
        path: r.path,
        mints: r.outcomes.length,
        tokens: r.tokens.length,
        inFlightAtRevocation: r.outcomes.filter(
          (o) => o.sentAt < r.revokedAt && o.answeredAt > r.revokingAt,
        ).length,
        refusedAfter: after.length,
        recordedUnderGrant: tokens.length,
      });
    }
    const checked = report.reduce((sum, r) => sum + r.tokens, 0);
    console.log(
      `revoke race (${w.t.deps.database.driver}): ${ROUNDS} rounds, ${checked} tokens checked, ${JSON.stringify(report)}`,
    );
  }, 120_000);
});
