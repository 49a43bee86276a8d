/**
 * Attacks on what a grant is bound to: its agent, its tenant, its APIs, its scopes
 * and its lifetime. A grant handle in the wrong hands, a token exchange that tries
 * to widen what the parent allowed, a CIBA request naming someone of another tenant,
 * an API reporting or introspecting another API's token, an agent revoking a token
 * that is not its own, and replayed client authentication. Every case is refused
 * exactly and leaves the database as it was (state.ts).
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import {
  backchannel,
  BACKCHANNEL,
  MAIL,
  OTHER_API,
  REPOS,
  validRequest,
} from '../delegation/world.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion, form } from '../helpers/clients.ts';
import { createTaskWorld, introspect, mint, revoke, type TaskWorld } from '../oauth/task-world.ts';
import { report } from '../revocation/revocation-world.ts';
import { actorToken, exchange, exchanged } from '../tokens/exchange-world.ts';
import { expectOAuthError } from './forge.ts';
import { replayRows, withoutStateChange } from './state.ts';

let w: TaskWorld;
beforeAll(async () => {
  w = await createTaskWorld();
});
afterAll(async () => w.t.close());

const HANDLE_REFUSED =
  'the grant handle is invalid, expired, revoked or was issued to another client';

describe('a grant handle', () => {
  it('is refused to another agent of the same tenant', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await mint(w, { resource: REPOS }, w.acme.otherAgent),
        400,
        'invalid_grant',
      );
      expect(body.error_description).toBe(HANDLE_REFUSED);
    });
  });

  it('is refused to an agent of another tenant', async () => {
    await withoutStateChange(
      w.t,
      async () => {
        const body = await expectOAuthError(
          await mint(w, { resource: REPOS }, w.globex.agent),
          400,
          'invalid_grant',
        );
        expect(body.error_description).toBe(HANDLE_REFUSED);
      },
      // The first mint of a tenant in a process reserves a block of status-list positions
      // (and opens the tenant's list) before the grant is judged; a refusal gives its
      // position back to the block, so this is bounded to one block per tenant and process
      // (src/revocation/status-index.ts), never one per request.
      { ignore: ['status_lists'] },
    );
  });

  it('is refused to an API client', async () => {
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await mint(w, { resource: REPOS }, w.acme.api),
        400,
        'unauthorized_client',
      );
    });
  });

  it('is refused when one character is changed', async () => {
    const last = w.handle.at(-1) === 'A' ? 'B' : 'A';
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await mint(w, { resource: REPOS, refresh_token: w.handle.slice(0, -1) + last }),
        400,
        'invalid_grant',
      );
      expect(body.error_description).toBe(HANDLE_REFUSED);
    });
  });

  it('cannot stretch a task token past the grant’s per-token ceiling', async () => {
    const details = JSON.stringify([
      { type: 'agent_task', purpose: 'Tag release 4.2', max_token_ttl: 86_400 },
    ]);
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await mint(w, { resource: REPOS, authorization_details: details }),
        400,
        'invalid_authorization_details',
      );
      expect(body.error_description).toMatch(/max_token_ttl/);
    });
  });

  it('cannot set a grant’s duration from a task mint', async () => {
    const details = JSON.stringify([
      { type: 'agent_task', purpose: 'Tag release 4.2', duration: 7200 },
    ]);
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await mint(w, { resource: REPOS, authorization_details: details }),
        400,
        'invalid_authorization_details',
      );
      expect(body.error_description).toBe(
        'duration applies to a grant, not to a task token; use max_token_ttl',
      );
    });
  });
});

describe('a token exchange', () => {
  it('may not widen the scope beyond the parent’s', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await exchange(w, w.acme.otherAgent, w.firstToken, { scope: 'repo:read mail:send' }),
        400,
        'invalid_scope',
      );
      expect(body.error_description).toMatch(
        /^scope mail:send is not in the subject_token's scope/,
      );
    });
  });

  it('may not move the token to another API of the grant', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await exchange(w, w.acme.otherAgent, w.firstToken, { resource: MAIL }),
        400,
        'invalid_target',
      );
      expect(body.error_description).toMatch(/keeps its parent's audience/);
    });
  });

  it('may not outlive its parent: a parent past its exp is refused', async () => {
    const parentExp = decodeJwt(w.firstToken).exp ?? 0;
    const actor = await actorToken(w, w.acme.otherAgent, {
      now: new Date((parentExp + 1) * 1000),
    });
    const at = w.t.clock.now().getTime();
    w.t.clock.advance(parentExp + 1 - Math.floor(at / 1000));
    try {
      await withoutStateChange(w.t, async () => {
        const body = await expectOAuthError(
          await exchange(w, w.acme.otherAgent, w.firstToken, { actor_token: actor }),
          400,
          'invalid_request',
        );
        expect(body.error_description).toBe(
          'subject_token is not a valid access token from this broker',
        );
      });
    } finally {
      w.t.clock.advance((at - w.t.clock.now().getTime()) / 1000);
    }
  });

  it('gives a child no more life than its parent has left', async () => {
    // Not a refusal, the clamp that makes one unnecessary: exp ≤ parent's exp.
    const child = await exchanged(w, w.acme.otherAgent, w.firstToken);
    expect(decodeJwt(child.access_token).exp).toBeLessThanOrEqual(decodeJwt(w.firstToken).exp ?? 0);
  });

  it('is refused to an agent of another tenant', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await exchange(w, w.globex.agent, w.firstToken),
        400,
        'invalid_request',
      );
      expect(body.error_description).toBe('subject_token is not an active access token');
    });
  });

  it('refuses a replayed actor token, which stays spent once', async () => {
    const actor = await actorToken(w, w.acme.otherAgent);
    expect(
      (await exchange(w, w.acme.otherAgent, w.firstToken, { actor_token: actor })).status,
    ).toBe(200);
    const spent = await replayRows(w.t, 'client_assertion_jtis');
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await exchange(w, w.acme.otherAgent, w.firstToken, { actor_token: actor }),
        400,
        'invalid_request',
      );
      expect(body.error_description).toBe('actor_token was already used');
    });
    // The request's own client assertion is the only new entry.
    expect((await replayRows(w.t, 'client_assertion_jtis')).length).toBe(spent.length + 1);
  });

  it('refuses an actor token that speaks for another agent than the caller', async () => {
    const actor = await actorToken(w, w.acme.agent);
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await exchange(w, w.acme.otherAgent, w.firstToken, { actor_token: actor }),
        400,
        'invalid_request',
      );
    });
  });
});

describe('client authentication', () => {
  it('refuses a replayed client assertion', async () => {
    const assertion = await clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() });
    const send = () => {
      const body = new URLSearchParams({
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
        login_hint: validRequest.login_hint,
        scope: 'repo:read',
        resource: REPOS,
      });
      return w.t.request(BACKCHANNEL, { ...form({}), body: body.toString() });
    };
    expect((await send()).status).toBe(200);
    const seen = await replayRows(w.t, 'client_assertion_jtis');
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(await send(), 401, 'invalid_client');
    });
    expect(await replayRows(w.t, 'client_assertion_jtis')).toEqual(seen);
  });

  it('refuses a client_secret or a Basic header next to a valid assertion', async () => {
    const assertion = async () => clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() });
    const body = async (extra: Record<string, string>) =>
      new URLSearchParams({
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await assertion(),
        login_hint: validRequest.login_hint,
        scope: 'repo:read',
        resource: REPOS,
        ...extra,
      }).toString();
    await withoutStateChange(w.t, async () => {
      const secret = await w.t.request(BACKCHANNEL, {
        ...form({}),
        body: await body({ client_secret: 'guess' }),
      });
      await expectOAuthError(secret, 401, 'invalid_client');
      const basic = await w.t.request(BACKCHANNEL, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${btoa(`${w.acme.agent.clientId}:guess`)}`,
        },
        body: await body({}),
      });
      await expectOAuthError(basic, 401, 'invalid_client');
    });
  });

  it('refuses a client_id that differs from the assertion’s issuer', async () => {
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await backchannel(w, { ...validRequest, client_id: w.acme.otherAgent.clientId }),
        401,
        'invalid_client',
      );
    });
  });
});

describe('CIBA login_hint', () => {
  it.each([
    ['a person of another tenant', 'grace@example.com'],
    ['that person in capitals and padded', '  GRACE@Example.COM '],
    ['a look-alike of that person (Cyrillic а)', 'gr\u0430ce@example.com'],
    ['a look-alike of the own person (fullwidth ａ)', '\uff41da@example.com'],
    ['the own person with a zero-width joiner', 'a\u200dda@example.com'],
    ['the own person in NFKD-decomposed form with a combining mark', 'a\u0301da@example.com'],
    ['a SQL string', "ada@example.com' OR '1'='1"],
  ])('refuses %s with unknown_user_id', async (_, hint) => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await backchannel(w, { ...validRequest, login_hint: hint }),
        400,
        'unknown_user_id',
      );
      expect(body.error_description).toBe(
        'login_hint does not name an active person of this tenant',
      );
    });
  });

  it('refuses another tenant’s API as a resource, like an unknown one', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await backchannel(w, { ...validRequest, scope: 'repo:read', resource: OTHER_API }),
        400,
        'invalid_target',
      );
      expect(body.error_description).toBe(`resource ${OTHER_API} is not an API of this tenant`);
    });
  });
});

describe('an API', () => {
  const NOT_FOR_THIS_API =
    'the token was not issued for this API (unknown, another API, another tenant); nothing was revoked';

  it.each([
    ['another API of the same tenant', () => w.acme.mailApi],
    ['an API of another tenant', () => w.globex.api],
  ])('may not report an overrun for a token of %s', async (_, api) => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await report(w, api(), { token: w.firstToken, attempted_scope: 'repo:admin' }),
        403,
        'access_denied',
      );
      expect(body.error_description).toBe(NOT_FOR_THIS_API);
    });
  });

  it('may not report an overrun by the jti of another API’s token', async () => {
    const jti = decodeJwt(w.firstToken).jti ?? '';
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await report(w, w.acme.mailApi, { jti, attempted_scope: 'mail:admin' }),
        403,
        'access_denied',
      );
      expect(body.error_description).toBe(NOT_FOR_THIS_API);
    });
  });

  it('may not report an overrun as an agent', async () => {
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await report(w, w.acme.agent, { token: w.firstToken, attempted_scope: 'repo:admin' }),
        403,
        'unauthorized_client',
      );
    });
  });

  it.each([
    ['another API of the same tenant', () => w.acme.mailApi],
    ['an API of another tenant', () => w.globex.api],
  ])('learns nothing by introspecting a token of %s', async (_, api) => {
    await withoutStateChange(w.t, async () => {
      const res = await introspect(w, api(), w.firstToken);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ active: false });
    });
  });
});

describe('revocation by another agent', () => {
  it.each([
    ['the access token', () => w.firstToken],
    ['the grant handle', () => w.handle],
  ])('answers 200 for %s of someone else and revokes nothing', async (_, token) => {
    for (const client of [w.acme.otherAgent, w.globex.agent]) {
      await withoutStateChange(w.t, async () => {
        const res = await revoke(w, client, token());
        expect(res.status).toBe(200);
      });
    }
    // Still live for its owner's API.
    const res = await introspect(w, w.acme.api, w.firstToken);
    expect(((await res.json()) as { active: boolean }).active).toBe(true);
  });
});
