/**
 * Shared steps for the in-process passkey tests: JSON calls to the ceremony
 * endpoints, a person registered from an invite with a software authenticator,
 * and a snapshot of every row a ceremony could write, so refusals can assert
 * that nothing changed.
 */
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { asc, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { invites, passkeys, sessions, users, webauthnChallenges } from '../../src/db/schema.ts';
import type { TestApp } from '../helpers/app.ts';
import { SoftAuthenticator, type Ceremony } from '../helpers/soft-authenticator.ts';
import { invite } from '../ui/fixtures.ts';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  res: Response;
}

export async function postJson(
  t: TestApp,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await t.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, res };
}

export async function registrationOptions(
  t: TestApp,
  secret: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { status, body } = await postJson(t, '/passkeys/register/options', { invite: secret });
  expect(status).toBe(200);
  return body as unknown as PublicKeyCredentialCreationOptionsJSON;
}

export async function signInOptions(t: TestApp): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { status, body } = await postJson(t, '/passkeys/signin/options', {});
  expect(status).toBe(200);
  return body as unknown as PublicKeyCredentialRequestOptionsJSON;
}

/** A software authenticator speaking for the app's own origin (PUBLIC_URL). */
export const authenticatorFor = (t: TestApp) =>
  SoftAuthenticator.create(new URL(t.deps.config.publicUrl).origin);

/** Answers fresh registration options for `secret` with `auth`, tampered as `c` says. */
export async function register(
  t: TestApp,
  secret: string,
  auth: SoftAuthenticator,
  c: Ceremony = {},
): Promise<Answer> {
  const options = await registrationOptions(t, secret);
  const response = await auth.register(options, c);
  return postJson(t, '/passkeys/register/verify', { invite: secret, response });
}

export async function signIn(t: TestApp, auth: SoftAuthenticator, c: Ceremony = {}) {
  const response = await auth.assert(await signInOptions(t), c);
  return postJson(t, '/passkeys/signin/verify', { response });
}

/** The `name=value` pair of a Set-Cookie header, ready for a Cookie header. */
export const cookieOf = (res: Response) =>
  (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

export interface Registered {
  auth: SoftAuthenticator;
  userId: string;
  tenantId: string;
  cookie: string;
}

/** A person invited to `tenant` who has registered one passkey and is signed in. */
export async function registeredPerson(
  t: TestApp,
  email = 'ada@example.com',
  tenant = 'acme',
): Promise<Registered> {
  const { userId, secret } = await invite(t, email, tenant);
  const auth = await authenticatorFor(t);
  const answer = await register(t, secret, auth);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const [user] = await t.owner.select().from(users).where(eq(users.id, userId));
  return { auth, userId, tenantId: user?.tenantId ?? '', cookie: cookieOf(answer.res) };
}

/** The CSRF token of the session behind `cookie` (the page would render it). */
export async function csrfOf(t: TestApp, userId: string): Promise<string> {
  const rows = await t.owner
    .select({ csrf: sessions.csrfToken })
    .from(sessions)
    .where(eq(sessions.userId, userId));
  return rows[0]?.csrf ?? '';
}

/** Every row a passkey ceremony can write or consume, in a stable order. */
export async function snapshot(t: TestApp) {
  const db = t.owner;
  return {
    passkeys: await db
      .select({ id: passkeys.id, counter: passkeys.counter, lastUsedAt: passkeys.lastUsedAt })
      .from(passkeys)
      .orderBy(asc(passkeys.id)),
    sessions: await db.select().from(sessions).orderBy(asc(sessions.idHash)),
    invites: await db
      .select({ id: invites.id, usedAt: invites.usedAt })
      .from(invites)
      .orderBy(asc(invites.id)),
    users: await db
      .select({ id: users.id, status: users.status })
      .from(users)
      .orderBy(asc(users.id)),
    challenges: await db
      .select({ challenge: webauthnChallenges.challenge })
      .from(webauthnChallenges)
      .orderBy(asc(webauthnChallenges.challenge)),
  };
}

/** A refusal: 400 invalid_request whose description contains `says`, and no cookie. */
export function expectRefused(answer: Answer, says: string | RegExp) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(answer.body.error).toBe('invalid_request');
  expect(String(answer.body.error_description)).toMatch(says);
  expect(answer.res.headers.get('set-cookie')).toBeNull();
}
