/**
 * POST /oauth/revoke (RFC 7009): an agent revokes its own access tokens and its
 * grant handle; anything else is answered 200 and changes nothing.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grants, issuedTokens } from '../../src/db/schema.ts';
import { REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  expectOAuthError,
  mint,
  mintOk,
  revoke,
  snapshot,
  verifyAccessToken,
  type TaskWorld,
} from './task-world.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

const db = () => w.t.owner;

async function ok(res: Response) {
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('');
}

async function tokenRow(token: string) {
  const { payload } = await verifyAccessToken(w, token);
  const [row] = await db()
    .select()
    .from(issuedTokens)
    .where(eq(issuedTokens.jti, payload.jti ?? ''));
  return row;
}

async function grantRow() {
  const [row] = await db().select().from(grants).where(eq(grants.id, w.grantId));
  return row;
}

describe('revocation', () => {
  it('revokes the agent’s own access token and only that one', async () => {
    const second = await mintOk(w, { resource: REPOS });
    await ok(await revoke(w, w.acme.agent, w.firstToken, { token_type_hint: 'access_token' }));
    expect((await tokenRow(w.firstToken))?.revokedAt?.getTime()).toBe(w.t.clock.now().getTime());
    expect((await tokenRow(second.access_token))?.revokedAt).toBeNull();
    expect((await grantRow())?.status).toBe('active');
    // The grant lives on: the handle still mints.
    expect((await mint(w, { resource: REPOS })).status).toBe(200);
    // Revoking again is harmless.
    await ok(await revoke(w, w.acme.agent, w.firstToken));
  });

  it('revokes the grant and every token of it when given the grant handle', async () => {
    const second = await mintOk(w, { resource: REPOS });
    await ok(await revoke(w, w.acme.agent, w.handle, { token_type_hint: 'refresh_token' }));
    const grant = await grantRow();
    expect(grant).toMatchObject({ status: 'revoked', revocationReason: 'revoked by the agent' });
    expect(grant?.revokedAt?.getTime()).toBe(w.t.clock.now().getTime());
    expect((await tokenRow(w.firstToken))?.revokedAt).not.toBeNull();
    expect((await tokenRow(second.access_token))?.revokedAt).not.toBeNull();
    await expectOAuthError(await mint(w, { resource: REPOS }), 'invalid_grant');
  });

  it('searches past a wrong hint (RFC 7009 §2.1)', async () => {
    await ok(await revoke(w, w.acme.agent, w.handle, { token_type_hint: 'access_token' }));
    expect((await grantRow())?.status).toBe('revoked');
  });

  it('answers 200 and changes nothing when another agent revokes someone else’s token or handle', async () => {
    const before = await snapshot(w);
    for (const client of [w.acme.otherAgent, w.globex.agent]) {
      await ok(await revoke(w, client, w.firstToken));
      await ok(await revoke(w, client, w.handle));
    }
    expect(await snapshot(w)).toEqual(before);
  });

  it('answers 200 and changes nothing for unknown, malformed and expired tokens', async () => {
    const before = await snapshot(w);
    await ok(await revoke(w, w.acme.agent, 'x'.repeat(43)));
    await ok(await revoke(w, w.acme.agent, 'not.a.jwt'));
    await ok(await revoke(w, w.acme.agent, 'y'.repeat(5000)));
    w.t.clock.advance(121);
    await ok(await revoke(w, w.acme.agent, w.firstToken));
    expect(await snapshot(w)).toEqual(before);
  });

  it('answers unsupported_token_type to a hint it has no tokens of, changing nothing', async () => {
    const before = await snapshot(w);
    const res = await revoke(w, w.acme.agent, w.handle, { token_type_hint: 'id_token' });
    await expectOAuthError(res, 'unsupported_token_type');
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses APIs (unauthorized_client) and a missing token (invalid_request)', async () => {
    const before = await snapshot(w);
    await expectOAuthError(await revoke(w, w.acme.api, w.firstToken), 'unauthorized_client');
    await expectOAuthError(await revoke(w, w.acme.agent, ''), 'invalid_request');
    expect(await snapshot(w)).toEqual(before);
  });
});
