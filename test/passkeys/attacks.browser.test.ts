/**
 * WebAuthn as an attacker probes it. A person registers a real passkey in
 * Chromium; its private key is then exported from the virtual authenticator, so
 * the test can sign assertions the browser never would: another origin, another
 * RP ID, no user verification, a counter that went backwards, an old or replayed
 * challenge, a challenge from another ceremony, someone else's passkey on an
 * approval. Each is refused with 400 invalid_request and leaves no session,
 * counter change or grant behind.
 */
import { count, eq } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants, passkeys, sessions } from '../../src/db/schema.ts';
import { createCibaRequest } from '../../src/delegation/create-request.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  startTestServer,
  type TestServer,
  type VirtualAuthenticator,
} from '../helpers/browser.ts';
import { exportPasskey, forgeAssertion, type ExportedPasskey } from '../helpers/forger.ts';
import { invite } from '../ui/fixtures.ts';

let browser: Browser;
let server: TestServer;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  server = await startTestServer();
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
});
afterEach(async () => {
  await context?.close();
  await server?.close();
});

const db = () => server.app.owner;

/** Registers a passkey for `email` in a fresh browser context and exports it. */
async function registered(email: string): Promise<ExportedPasskey> {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  try {
    const authenticator: VirtualAuthenticator = await addVirtualAuthenticator(p);
    const { url } = await invite(server.app, email, 'acme');
    await p.goto(url);
    await p.getByRole('button', { name: 'Create passkey', exact: true }).click();
    await p.getByRole('heading', { name: 'Dashboard', exact: true }).waitFor({ timeout: 10_000 });
    return await exportPasskey(authenticator);
  } finally {
    await ctx.close();
  }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string>, res };
}

async function signInChallenge(): Promise<string> {
  const { body } = await post('/passkeys/signin/options', {});
  return body.challenge ?? '';
}

const sessionCount = async () => (await db().select({ n: count() }).from(sessions))[0]?.n ?? 0;
const storedCounter = async (id: string) =>
  (await db().select({ c: passkeys.counter }).from(passkeys).where(eq(passkeys.id, id)))[0]?.c;

describe('passkey sign-in under attack', () => {
  it('accepts a faithful assertion, then refuses each forged or replayed one', async () => {
    const key = await registered('ada@example.com');
    const origin = server.url;
    const rpId = 'localhost';
    let counter = (await storedCounter(key.id)) ?? 0;

    // The forger is faithful: a correct assertion signs in.
    const good = forgeAssertion(key, {
      challenge: await signInChallenge(),
      origin,
      rpId,
      counter: ++counter,
    });
    const before = await sessionCount();
    const ok = await post('/passkeys/signin/verify', { response: good });
    expect(ok.status).toBe(200);
    expect(ok.res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    expect(await sessionCount()).toBe(before + 1);

    const refusals: [string, () => Promise<unknown>, RegExp][] = [
      [
        'the same response again (challenge replay)',
        () => Promise.resolve(good),
        /current sign-in/,
      ],
      [
        'another origin',
        async () =>
          forgeAssertion(key, {
            challenge: await signInChallenge(),
            origin: 'https://evil.example',
            rpId,
            counter: counter + 1,
          }),
        /origin/i,
      ],
      [
        'another RP ID',
        async () =>
          forgeAssertion(key, {
            challenge: await signInChallenge(),
            origin,
            rpId: 'evil.example',
            counter: counter + 1,
          }),
        /RP ID/i,
      ],
      [
        'no user verification',
        async () =>
          forgeAssertion(key, {
            challenge: await signInChallenge(),
            origin,
            rpId,
            counter: counter + 1,
            uv: false,
          }),
        /verif/i,
      ],
      [
        'a counter that did not advance',
        async () =>
          forgeAssertion(key, { challenge: await signInChallenge(), origin, rpId, counter }),
        /counter/i,
      ],
      [
        'a registration-type clientData',
        async () =>
          forgeAssertion(key, {
            challenge: await signInChallenge(),
            origin,
            rpId,
            counter: counter + 1,
            type: 'webauthn.create',
          }),
        /type/i,
      ],
      [
        'a challenge the broker never issued',
        () =>
          Promise.resolve(
            forgeAssertion(key, { challenge: randomToken(32), origin, rpId, counter: counter + 1 }),
          ),
        /current sign-in/,
      ],
      [
        'a challenge issued for registration',
        async () => {
          const { url } = await invite(server.app, 'grace@example.com', 'acme');
          const { body } = await post('/passkeys/register/options', {
            invite: url.split('/').pop(),
          });
          return forgeAssertion(key, {
            challenge: body.challenge ?? '',
            origin,
            rpId,
            counter: counter + 1,
          });
        },
        /current sign-in/,
      ],
      [
        'an expired challenge',
        async () => {
          const challenge = await signInChallenge();
          server.app.clock.advance(server.app.deps.config.webauthnChallengeTtl + 1);
          return forgeAssertion(key, { challenge, origin, rpId, counter: counter + 1 });
        },
        /current sign-in/,
      ],
    ];
    for (const [what, make, message] of refusals) {
      const sessionsBefore = await sessionCount();
      const res = await post('/passkeys/signin/verify', { response: await make() });
      expect({ what, status: res.status, error: res.body.error }).toEqual({
        what,
        status: 400,
        error: 'invalid_request',
      });
      expect(res.body.error_description, what).toMatch(message);
      expect(res.res.headers.get('set-cookie'), what).toBeNull();
      expect(await sessionCount(), what).toBe(sessionsBefore);
      expect(await storedCounter(key.id), what).toBe(counter);
    }
  }, 60_000);

  it('refuses an approval signed with another person’s passkey, even with a valid challenge', async () => {
    const ada = await registered('ada@example.com');
    const mallory = await registered('mallory@example.com');
    const [adaKey] = await db().select().from(passkeys).where(eq(passkeys.id, ada.id));
    if (!adaKey) throw new Error('ada has no passkey');

    // A pending request for Ada, made through the same function the CIBA endpoint uses.
    const { client_id: apiId } = await addApi(db(), {
      tenant: 'acme',
      audience: 'https://files.acme.example/',
      jwks: {
        keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }],
      },
      scopes: [{ name: 'files:read', description: 'Read files', sensitivity: 'read' }],
    });
    const { client_id: agentId } = await addAgent(db(), {
      tenant: 'acme',
      name: 'Filer',
      jwks: {
        keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }],
      },
    });
    const now = server.app.clock.now();
    await createCibaRequest(db(), {
      tenantId: adaKey.tenantId,
      clientId: agentId,
      userId: adaKey.userId,
      requested: [
        { resource: 'https://files.acme.example/', api_client_id: apiId, scopes: ['files:read'] },
      ],
      authorizationDetails: null,
      bindingMessage: null,
      expiresIn: 600,
      interval: 5,
      now,
    });
    const [request] = await db().select().from(cibaRequests);
    if (!request) throw new Error('no request');

    // Ada signs in (faithful assertion), then asks for an approval challenge.
    const signIn = await post('/passkeys/signin/verify', {
      response: forgeAssertion(ada, {
        challenge: await signInChallenge(),
        origin: server.url,
        rpId: 'localhost',
        counter: ada.signCount + 5,
      }),
    });
    const cookie = (signIn.res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const secret = cookie.split('=')[1] ?? '';
    const [session] = await db()
      .select()
      .from(sessions)
      .where(eq(sessions.idHash, await sha256base64url(secret)));
    const headers = { cookie, 'x-csrf-token': session?.csrfToken ?? '', origin: server.url };
    const options = await post(
      `/requests/${request.id}/approval/options`,
      {
        resources: [{ resource: 'https://files.acme.example/', scopes: ['files:read'] }],
        duration: 3600,
      },
      headers,
    );
    expect(options.status).toBe(200);

    // Mallory's passkey answers Ada's approval challenge: refused, nothing granted.
    const res = await post(
      `/requests/${request.id}/approval/verify`,
      {
        response: forgeAssertion(mallory, {
          challenge: options.body.challenge ?? '',
          origin: server.url,
          rpId: 'localhost',
          counter: mallory.signCount + 5,
        }),
      },
      headers,
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
    expect(res.body.error_description).toMatch(/not registered here/);
    expect(await db().select().from(grants)).toEqual([]);
    const [still] = await db().select().from(cibaRequests);
    expect(still?.status).toBe('pending');

    // Ada's own passkey on the same challenge works: the challenge was not used up by the failure.
    const approved = await post(
      `/requests/${request.id}/approval/verify`,
      {
        response: forgeAssertion(ada, {
          challenge: options.body.challenge ?? '',
          origin: server.url,
          rpId: 'localhost',
          counter: ada.signCount + 6,
        }),
      },
      headers,
    );
    expect(approved.status).toBe(200);
    expect(await db().select().from(grants)).toHaveLength(1);
  }, 60_000);
});
