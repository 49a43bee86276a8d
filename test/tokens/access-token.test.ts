/**
 * The RFC 9068 access token on its own: header, every claim, lifetime bounds,
 * and its record, independent of the grant that asks for it.
 */
import { eq } from 'drizzle-orm';
import { decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issuedTokens } from '../../src/db/schema.ts';
import { mintAccessToken, type AccessTokenInput } from '../../src/tokens/access-token.ts';
import { tokenLifetime } from '../../src/tokens/lifetime.ts';
import { recordIssuedToken } from '../../src/tokens/record.ts';
import { createTestApp, FIXED_STATUS, ISSUER, type TestApp } from '../helpers/app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp({ MANDATE_SIGNING_ALG: 'RS256' });
});
afterEach(async () => t.close());

const input = (over: Partial<AccessTokenInput> = {}): AccessTokenInput => ({
  issuer: ISSUER,
  subject: '00000000-0000-4000-8000-000000000001',
  audience: 'https://api.example/',
  clientId: 'agent_x',
  scopes: ['a:read', 'a:write'],
  actor: { sub: 'agent_x' },
  tenantId: '00000000-0000-4000-8000-000000000002',
  grantId: '00000000-0000-4000-8000-000000000003',
  issuedAt: t.clock.now(),
  lifetime: 300,
  status: FIXED_STATUS,
  ...over,
});

describe('mintAccessToken', () => {
  it('signs an at+jwt with the current key (RS256 here, which RFC 9068 requires support for)', async () => {
    const signer = await t.deps.keys.signer();
    const minted = await mintAccessToken(signer, input({ task: { id: 't1', purpose: 'p' } }));
    expect(decodeProtectedHeader(minted.token)).toEqual({
      alg: 'RS256',
      kid: signer.kid,
      typ: 'at+jwt',
    });
    const { payload } = await jwtVerify(minted.token, createLocalJWKSet(await t.deps.keys.jwks()), {
      typ: 'at+jwt',
      currentDate: t.clock.now(),
    });
    expect(payload).toEqual(minted.claims);
    expect(payload).toMatchObject({
      aud: 'https://api.example/',
      scope: 'a:read a:write',
      act: { sub: 'agent_x' },
      task: { id: 't1', purpose: 'p' },
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    expect(minted.expiresIn).toBe(300);
  });

  it('omits task when none is given and draws a fresh jti every time', async () => {
    const signer = await t.deps.keys.signer();
    const a = await mintAccessToken(signer, input());
    const b = await mintAccessToken(signer, input());
    expect(a.claims).not.toHaveProperty('task');
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it('refuses a lifetime that is not a positive whole number', async () => {
    const signer = await t.deps.keys.signer();
    await expect(mintAccessToken(signer, input({ lifetime: 0 }))).rejects.toThrow(RangeError);
    await expect(mintAccessToken(signer, input({ lifetime: 1.5 }))).rejects.toThrow(RangeError);
  });
});

describe('tokenLifetime', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const at = (s: number) => new Date(now.getTime() + s * 1000);

  it('takes the smallest of the default, the grant’s per-token ceiling and the time left', () => {
    expect(
      tokenLifetime({ defaultTtl: 300, grantMaxTokenTtl: 600, grantExpiresAt: at(3600), now }),
    ).toBe(300);
    expect(
      tokenLifetime({ defaultTtl: 300, grantMaxTokenTtl: 60, grantExpiresAt: at(3600), now }),
    ).toBe(60);
    expect(
      tokenLifetime({ defaultTtl: 300, grantMaxTokenTtl: 600, grantExpiresAt: at(42.9), now }),
    ).toBe(42);
  });

  it('refuses when the grant has ended', () => {
    expect(() =>
      tokenLifetime({ defaultTtl: 300, grantMaxTokenTtl: 600, grantExpiresAt: at(0.5), now }),
    ).toThrow(expect.objectContaining({ code: 'ERR_GRANT_ENDED' }) as Error);
  });
});

describe('recordIssuedToken', () => {
  it('refuses a token whose grant does not exist: nothing unrecorded can be handed out', async () => {
    const minted = await mintAccessToken(await t.deps.keys.signer(), input());
    await expect(recordIssuedToken(t.owner, minted)).rejects.toThrow();
    expect(
      await t.owner.select().from(issuedTokens).where(eq(issuedTokens.jti, minted.claims.jti)),
    ).toHaveLength(0);
  });
});
