/**
 * Sessions, in-process on both drivers: a passkey sign-in sets the cookie with the
 * attributes a browser needs to keep it to us (HttpOnly, SameSite=Strict, Secure
 * and the __Host- prefix on https), the cookie opens the dashboard until it
 * expires or the person signs out. The passkey is an Ed25519 key made here and
 * registered in the database as the registration ceremony would.
 */
import { encodeCBOR } from '@levischuck/tiny-cbor';
import { generateKeyPairSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { base64url } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { passkeys, sessions, users } from '../../src/db/schema.ts';
import { randomToken } from '../../src/random.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { forgeAssertion, type ExportedPasskey } from '../helpers/forger.ts';
import { invite } from '../ui/fixtures.ts';

let t: TestApp | undefined;
afterEach(async () => t?.close());

/** An active person with one Ed25519 passkey, stored with its COSE public key (RFC 9053). */
async function personWithPasskey(app: TestApp): Promise<ExportedPasskey> {
  const { userId } = await invite(app, 'ada@example.com', 'acme');
  const db = app.owner;
  await db.update(users).set({ status: 'active' }).where(eq(users.id, userId));
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x ?? '';
  // COSE_Key: kty OKP (1), alg EdDSA (-8), crv Ed25519 (6), x.
  const cose = encodeCBOR(
    new Map<number, number | Uint8Array>([
      [1, 1],
      [3, -8],
      [-1, 6],
      [-2, base64url.decode(x)],
    ]),
  );
  const id = randomToken(16);
  await db.insert(passkeys).values({
    id,
    tenantId: user?.tenantId ?? '',
    userId,
    publicKey: base64url.encode(cose),
    counter: 0,
    deviceType: 'singleDevice',
    backedUp: false,
  });
  return { id, key: privateKey, userHandle: undefined, signCount: 0 };
}

async function signIn(app: TestApp, key: ExportedPasskey, counter = 1) {
  const url = new URL(app.deps.config.publicUrl);
  const post = (path: string, body: unknown) =>
    app.hono.request(`${url.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const options = (await (await post('/passkeys/signin/options', {})).json()) as {
    challenge: string;
    rpId: string;
    userVerification: string;
    allowCredentials?: unknown[];
  };
  expect(options).toMatchObject({ rpId: url.hostname, userVerification: 'required' });
  expect(options.allowCredentials ?? []).toEqual([]);
  const response = forgeAssertion(key, {
    challenge: options.challenge,
    origin: url.origin,
    rpId: url.hostname,
    counter,
  });
  return post('/passkeys/signin/verify', { response });
}

const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

describe('sessions', () => {
  it('sets an HttpOnly, SameSite=Strict cookie without Secure on http://localhost', async () => {
    t = await createTestApp();
    const key = await personWithPasskey(t);
    const res = await signIn(t, key);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, redirect: '/' });
    const header = res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/^mandate_session=[\w-]{43};/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).toMatch(/Path=\//);
    expect(header).not.toMatch(/Secure/);
  });

  it('uses the __Host- prefix and Secure on https', async () => {
    t = await createTestApp({ PUBLIC_URL: 'https://broker.example' });
    const key = await personWithPasskey(t);
    const res = await signIn(t, key);
    expect(res.status).toBe(200);
    const header = res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/^__Host-mandate_session=/);
    expect(header).toMatch(/Secure/);
    expect(header).not.toMatch(/Domain=/i);
  });

  it('opens the dashboard until sign-out, and keeps only a hash of the cookie', async () => {
    t = await createTestApp();
    const key = await personWithPasskey(t);
    const cookie = cookieOf(await signIn(t, key));
    const secret = cookie.split('=')[1] ?? '';
    const dashboard = await t.request('/', { headers: { cookie } });
    const html = await dashboard.text();
    expect(html).toContain('Signed in as');
    const stored = await t.owner.select().from(sessions);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(secret);

    // Sign-out needs the CSRF token: without it nothing happens.
    const csrf = stored[0]?.csrfToken ?? '';
    const refused = await t.request('/signout', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=wrong',
    });
    expect(refused.status).toBe(403);
    expect(await t.owner.select().from(sessions)).toHaveLength(1);

    const out = await t.request('/signout', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${csrf}`,
    });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/mandate_session=;.*Max-Age=0/);
    expect(await t.owner.select().from(sessions)).toHaveLength(0);
    const after = await (await t.request('/', { headers: { cookie } })).text();
    expect(after).toContain('Sign in with passkey');
  });

  it('ends a session at its expiry', async () => {
    t = await createTestApp();
    const key = await personWithPasskey(t);
    const cookie = cookieOf(await signIn(t, key));
    t.clock.advance(t.deps.config.sessionTtl + 1);
    const html = await (await t.request('/', { headers: { cookie } })).text();
    expect(html).toContain('Sign in with passkey');
    expect(html).not.toContain('Signed in as');
  });

  it('refuses a disabled person even with a valid passkey', async () => {
    t = await createTestApp();
    const key = await personWithPasskey(t);
    await t.owner.update(users).set({ status: 'disabled' });
    const res = await signIn(t, key);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await t.owner.select().from(sessions)).toHaveLength(0);
  });
});
