/**
 * Property-based tests (fast-check) through the real token endpoint: for any
 * request against a redeemed grant, a minted token's scope is within what the
 * grant holds for its one audience and its expiry within every bound; a refusal
 * happens exactly when the request reaches beyond the grant. Any token exchange
 * of such a token never widens scope or lifetime.
 */
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants } from '../../src/db/schema.ts';
import { MAIL, OTHER_API, REPOS } from '../delegation/world.ts';
import { createTaskWorld, mint, type TaskWorld } from '../oauth/task-world.ts';
import { exchange } from './exchange-world.ts';
import { permitAll } from '../helpers/policy.ts';

let w: TaskWorld;
let grant: typeof grants.$inferSelect;

beforeAll(async () => {
  // The property is the scope algebra over many requests against one grant; overruns
  // revoking the grant at the threshold is tested in test/revocation.
  w = await createTaskWorld({ MANDATE_OVERRUN_THRESHOLD: '1000' });
  // Likewise the policy: the shipped default would deny the agent after three overruns
  // and narrow admin scopes; the policy's outcomes are tested in test/tokens/policy-outcomes.
  await permitAll(w.t, w.acme.tenantId);
  const [row] = await w.t.owner.select().from(grants);
  if (!row) throw new Error('no grant');
  grant = row;
});
afterAll(async () => w.t.close());

const SCOPES = ['repo:read', 'repo:write', 'mail:send', 'repo:admin'];
const RESOURCES = [REPOS, MAIL, OTHER_API];

const request = fc.record({
  resource: fc.constantFrom(...RESOURCES),
  scopes: fc.option(fc.subarray(SCOPES, { minLength: 1 }), { nil: undefined }),
  maxTokenTtl: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
  wait: fc.integer({ min: 0, max: 30 }),
});

describe('per-task mint, for any request', () => {
  it('grants within the grant and refuses exactly what lies beyond it', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        w.t.clock.advance(r.wait);
        const ceiling = grant.resources.find((g) => g.resource === r.resource);
        const widens = !ceiling || (r.scopes ?? []).some((s) => !ceiling.scopes.includes(s));
        const res = await mint(w, {
          resource: r.resource,
          ...(r.scopes ? { scope: r.scopes.join(' ') } : {}),
          ...(r.maxTokenTtl
            ? {
                authorization_details: JSON.stringify([
                  { type: 'agent_task', purpose: 'property', max_token_ttl: r.maxTokenTtl },
                ]),
              }
            : {}),
        });
        const body = (await res.json()) as Record<string, unknown>;
        if (widens) {
          expect(res.status).toBe(400);
          expect(['invalid_scope', 'invalid_target']).toContain(body.error);
          return;
        }
        expect(res.status, JSON.stringify(body)).toBe(200);
        const claims = decodeJwt(String(body.access_token));
        expect(claims.aud).toBe(r.resource);
        const scopes = String(claims.scope).split(' ');
        for (const s of scopes) expect(ceiling?.scopes).toContain(s);
        if (r.scopes) expect(new Set(scopes)).toEqual(new Set(r.scopes));
        const lifetime = (claims.exp ?? 0) - (claims.iat ?? 0);
        expect(lifetime).toBeGreaterThan(0);
        expect(lifetime).toBeLessThanOrEqual(w.t.deps.config.accessTokenTtl);
        expect(lifetime).toBeLessThanOrEqual(grant.maxTokenTtl);
        if (r.maxTokenTtl) expect(lifetime).toBeLessThanOrEqual(r.maxTokenTtl);
        expect((claims.exp ?? 0) * 1000).toBeLessThanOrEqual(grant.expiresAt.getTime());
      }),
      { numRuns: 25 },
    );
  });
});

describe('token exchange, for any request', () => {
  it('never widens scope or lifetime', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(['repo:read', 'repo:write'], { minLength: 1 }),
        fc.option(fc.subarray(SCOPES, { minLength: 1 }), { nil: undefined }),
        async (parentScopes, childScopes) => {
          const parentRes = await mint(w, { resource: REPOS, scope: parentScopes.join(' ') });
          const parentToken = ((await parentRes.json()) as { access_token: string }).access_token;
          const parent = decodeJwt(parentToken);
          const res = await exchange(
            w,
            w.acme.otherAgent,
            parentToken,
            childScopes ? { scope: childScopes.join(' ') } : {},
          );
          const body = (await res.json()) as Record<string, unknown>;
          const widens = (childScopes ?? []).some((s) => !parentScopes.includes(s));
          if (widens) {
            expect(res.status).toBe(400);
            expect(body.error).toBe('invalid_scope');
            return;
          }
          expect(res.status, JSON.stringify(body)).toBe(200);
          const child = decodeJwt(String(body.access_token));
          for (const s of String(child.scope).split(' ')) expect(parentScopes).toContain(s);
          expect(child.exp ?? 0).toBeLessThanOrEqual(parent.exp ?? 0);
          expect(child.aud).toBe(parent.aud);
          expect(child.act).toEqual({
            sub: w.acme.otherAgent.clientId,
            act: { sub: w.acme.agent.clientId },
          });
        },
      ),
      { numRuns: 15 },
    );
  });
});
