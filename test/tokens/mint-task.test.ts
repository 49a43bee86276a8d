/**
 * The DPoP seam of the per-task mint: the token endpoint hands the refresh grant
 * the thumbprint of a verified proof; the mint binds the token to it (cnf.jkt,
 * token_type DPoP) and a DPoP-bound grant's handle works only with its own key.
 * The proof itself is verified elsewhere (src/oauth/dpop.ts), so these tests call
 * the grant handler directly with the value the endpoint would pass.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grants, issuedTokens } from '../../src/db/schema.ts';
import type { AuthenticatedClient } from '../../src/oauth/client-auth.ts';
import { OAuthError } from '../../src/oauth/errors.ts';
import type { OAuthForm } from '../../src/oauth/form.ts';
import { refreshGrant } from '../../src/oauth/refresh-grant.ts';
import { mintTaskToken } from '../../src/tokens/mint-task.ts';
import { statusFor } from '../helpers/app.ts';
import { REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  introspect,
  snapshot,
  verifyAccessToken,
  type TaskWorld,
} from '../oauth/task-world.ts';

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const OTHER_JKT = 'oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

function formOf(values: Record<string, string>): OAuthForm {
  const params = new URLSearchParams(values);
  return {
    get: (name) => params.get(name) ?? undefined,
    getAll: (name) => params.getAll(name),
  };
}

const agentClient = (): AuthenticatedClient => ({
  clientId: w.acme.agent.clientId,
  tenantId: w.acme.tenantId,
  kind: 'agent',
  name: 'Release bot',
});

const handler = () => refreshGrant(w.t.deps, w.t);
const request = () =>
  formOf({ grant_type: 'refresh_token', refresh_token: w.handle, resource: REPOS });

describe('per-task mint with a DPoP key', () => {
  it('binds the token to the proof’s key: cnf.jkt, token_type DPoP, recorded', async () => {
    const body = await handler()(request(), agentClient(), { jkt: JKT });
    expect(body.token_type).toBe('DPoP');
    const { payload } = await verifyAccessToken(w, body.access_token);
    expect(payload.cnf).toEqual({ jkt: JKT });
    const [row] = await w.t.owner
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, payload.jti ?? ''));
    expect(row?.dpopJkt).toBe(JKT);
    const res = await introspect(w, w.acme.api, body.access_token);
    expect(await res.json()).toMatchObject({ active: true, cnf: { jkt: JKT }, token_type: 'DPoP' });
  });

  it('mints a Bearer token without cnf when no proof was given', async () => {
    const body = await handler()(request(), agentClient());
    expect(body.token_type).toBe('Bearer');
    expect((await verifyAccessToken(w, body.access_token)).payload.cnf).toBeUndefined();
  });

  it('accepts the handle of a DPoP-bound grant only with that key', async () => {
    const db = w.t.owner;
    await db.update(grants).set({ dpopJkt: JKT }).where(eq(grants.id, w.grantId));
    const before = await snapshot(w);
    for (const dpop of [undefined, { jkt: OTHER_JKT }]) {
      const refused = handler()(request(), agentClient(), dpop);
      await expect(refused).rejects.toBeInstanceOf(OAuthError);
      await expect(refused).rejects.toMatchObject({ error: 'invalid_grant' });
    }
    expect(await snapshot(w)).toEqual(before);
    const body = await handler()(request(), agentClient(), { jkt: JKT });
    expect(body.token_type).toBe('DPoP');
  });

  it('takes dpopJkt as a plain parameter of the mint', async () => {
    const signer = await w.t.deps.keys.signer();
    const body = await mintTaskToken(w.t.owner, {
      clientId: w.acme.agent.clientId,
      tenantId: w.acme.tenantId,
      handle: w.handle,
      resources: [REPOS],
      scopes: ['repo:write'],
      dpopJkt: JKT,
      now: w.t.clock.now(),
      issuer: w.t.deps.config.publicUrl,
      accessTokenTtl: 300,
      signer,
      status: await statusFor(w.t, w.acme.tenantId),
      overrunThreshold: 2,
      policy: w.t.policy,
      escalation: { expiresIn: 300, interval: 5 },
    });
    expect(body).toMatchObject({ token_type: 'DPoP', scope: 'repo:write', expires_in: 120 });
  });
});
