/**
 * Delegation end to end, as people and agents meet it: the agent is openid-client
 * over real HTTP, the person is real Chromium with a virtual passkey. Invite →
 * passkey → CIBA request → sign in → review → untick a scope → approve with the
 * passkey → the agent's poll returns a token without the unticked scope. Then
 * the attacks on the approval itself: a captured assertion replayed against
 * another request, and evidence that must re-verify until one byte changes.
 */
import { eq } from 'drizzle-orm';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants, passkeys } from '../../src/db/schema.ts';
import { verifyEvidence, verifyGrantEvidence } from '../../src/delegation/evidence.ts';
import { runCommand } from '../../src/operator/commands.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { clientAssertion, form } from '../helpers/clients.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  screenshot,
  startTestServer,
  type TestServer,
  pageProblems,
} from '../helpers/browser.ts';
import { invite } from './fixtures.ts';

const MAIL = 'https://mail.acme.example/';
const CIBA = 'urn:openid:params:grant-type:ciba';

let browser: Browser;
let server: TestServer;
let context: BrowserContext;
let page: Page;
let problems: string[];
let agentKey: { privateKey: CryptoKey; publicJwk: JWK; clientId: string };

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  server = await startTestServer({ MANDATE_CIBA_INTERVAL: '1' });
  const db = server.app.owner;
  await createTenant(db, 'acme');
  await addApi(db, {
    tenant: 'acme',
    name: 'Acme Mail',
    audience: MAIL,
    jwks: { keys: [(await keyPair()).publicJwk] },
    scopes: [
      { name: 'mail:read', description: 'Read the messages in your mailbox', sensitivity: 'read' },
      { name: 'mail:send', description: 'Send email in your name', sensitivity: 'write' },
      {
        name: 'mail:rules',
        description: 'Create and change your forwarding rules',
        sensitivity: 'admin',
      },
    ],
  });
  // No `alg` on the key: openid-client signs Ed25519 as alg "Ed25519" (RFC 9864).
  const keys = await keyPair();
  const publicJwk = { ...keys.publicJwk };
  delete publicJwk.alg;
  const { client_id } = await addAgent(db, {
    tenant: 'acme',
    name: 'Mail assistant',
    jwks: { keys: [publicJwk] },
  });
  agentKey = { ...keys, clientId: client_id };
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  problems = pageProblems(page);
});
afterEach(async () => {
  await context?.close();
  await server?.close();
});

async function keyPair(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  return {
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), alg: 'EdDSA', kid: randomToken(8) },
  };
}

/** The server's clock is a TestClock; keep it at real time while real clients sign assertions. */
function syncClock(): void {
  server.app.clock.advance((Date.now() - server.app.clock.now().getTime()) / 1000);
}

const button = (name: string) => page.getByRole('button', { name, exact: true });
const heading = (name: string) => page.getByRole('heading', { name, exact: true });

async function registerPasskey(): Promise<void> {
  await addVirtualAuthenticator(page);
  const { url } = await invite(server.app, 'ada@example.com', 'acme');
  await page.goto(url);
  await button('Create passkey').click();
  await heading('Dashboard').waitFor();
}

async function agentClient(): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(server.url),
    agentKey.clientId,
    {},
    oidc.PrivateKeyJwt({ key: agentKey.privateKey, kid: agentKey.publicJwk.kid }),
    { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] },
  );
}

async function ask(
  config: oidc.Configuration,
  extra: Record<string, string> = {},
): Promise<oidc.BackchannelAuthenticationResponse & { requestId: string }> {
  syncClock();
  const started = await oidc.initiateBackchannelAuthentication(config, {
    login_hint: 'ada@example.com',
    scope: 'mail:read mail:send',
    resource: MAIL,
    binding_message: 'Q3 report',
    authorization_details: JSON.stringify([
      { type: 'agent_task', purpose: 'Send the Q3 report to the finance team', duration: 86_400 },
    ]),
    ...extra,
  });
  const [row] = await server.app.owner
    .select({ id: cibaRequests.id })
    .from(cibaRequests)
    .where(eq(cibaRequests.authReqIdHash, await sha256base64url(started.auth_req_id)));
  if (!row) throw new Error('the CIBA request was not stored');
  return { ...started, requestId: row.id };
}

describe('approving an agent with a passkey, in a real browser', () => {
  it(
    'narrows the grant to what the person left ticked, and the agent gets exactly that',
    { timeout: 90_000 },
    async () => {
      await registerPasskey();
      await button('Sign out').click();
      await button('Sign in with passkey').click();
      await heading('Dashboard').waitFor();

      const config = await agentClient();
      const request = await ask(config);

      // The dashboard already open shows the new request by itself (dashboard.js).
      const shownAt = page.url();
      await page.getByRole('link', { name: 'Review' }).waitFor();
      expect(page.url()).toBe(shownAt);
      await screenshot(page, 'dashboard-pending');
      await page.getByRole('link', { name: 'Review' }).click();
      await heading('Mail assistant asks to act for you').waitFor();
      for (const scope of ['mail:read', 'mail:send']) {
        expect(await page.getByRole('checkbox', { name: scope, exact: true }).isChecked()).toBe(
          true,
        );
      }
      expect(await page.getByText('Send email in your name').count()).toBe(1);
      expect(await page.getByText('Send the Q3 report to the finance team').count()).toBe(1);
      expect(await page.getByText('Q3 report', { exact: true }).count()).toBe(1);
      expect(await page.getByRole('checkbox', { name: 'mail:rules' }).count()).toBe(0);
      await screenshot(page, 'approval');

      await page.getByRole('checkbox', { name: 'mail:send', exact: true }).uncheck();
      // The agent asked for a day; the person allows an hour.
      await page.getByLabel('The permission lasts').selectOption({ label: '1 hour' });
      let captured: string | undefined;
      page.on('request', (r) => {
        if (r.url().endsWith('/approval/verify')) captured = r.postData() ?? undefined;
      });
      await button('Approve with passkey').click();
      await page.getByText(/You approved this request/).waitFor();
      await screenshot(page, 'approval-done');

      syncClock();
      const tokens = await oidc.pollBackchannelAuthenticationGrant(config, request);
      expect(tokens.scope).toBe('mail:read');
      const { payload } = await jwtVerify(
        tokens.access_token,
        createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)),
        { issuer: server.url, audience: MAIL, typ: 'at+jwt' },
      );
      expect(payload.scope).toBe('mail:read');
      expect(payload.client_id).toBe(agentKey.clientId);

      // The dashboard lists the grant with a Revoke button.
      await page.goto(`${server.url}/`);
      await button('Revoke').waitFor();
      await screenshot(page, 'dashboard');

      // The evidence re-verifies, through the same check the CLI runs.
      const db = server.app.owner;
      const [grant] = await db.select().from(grants);
      if (!grant) throw new Error('no grant stored');
      const report = await verifyGrantEvidence(db, grant.tenantId, grant.id);
      expect(report).toMatchObject({ ok: true, problems: [] });
      const cli = await runCommand(
        { db, keys: server.app.deps.keys, config: server.app.deps.config, clock: server.app.clock },
        'grant verify',
        { tenant: 'acme', grant_id: grant.id },
      );
      expect(cli).toMatchObject({ ok: true, grant_id: grant.id });
      expect(grant.expiresAt.getTime() - grant.createdAt.getTime()).toBe(3_600_000);
      expect(payload.exp).toBeLessThanOrEqual(grant.expiresAt.getTime() / 1000);
      expect(JSON.parse(grant.evidence.document)).toMatchObject({
        request_id: request.requestId,
        resources: [{ resource: MAIL, scopes: ['mail:read'] }],
      });

      // One byte of the approved document changed: the signature no longer covers it.
      const [key] = await db.select().from(passkeys);
      const doc = grant.evidence.document;
      const at = doc.indexOf('mail:read') + 5;
      const altered = `${doc.slice(0, at)}s${doc.slice(at + 1)}`;
      const broken = await verifyEvidence(
        { ...grant.evidence, document: altered },
        { ...grant, resources: [{ ...grant.resources[0]!, scopes: ['mail:send'] }] },
        key?.publicKey,
      );
      expect(broken.ok).toBe(false);
      expect(broken.problems.join('\n')).toMatch(/does not verify/);

      // Everything so far ran without a script error, CSP violation or failed load.
      expect(problems).toEqual([]);

      // The captured assertion replayed against another pending request changes nothing.
      expect(captured).toBeDefined();
      const second = await ask(config);
      await page.goto(`${server.url}/requests/${second.requestId}`);
      const csrf = await page.locator('#approval-form').getAttribute('data-csrf');
      const replay = async (requestId: string) =>
        page.evaluate(
          async ({ path, body, csrf }) => {
            const res = await fetch(path, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
              body,
            });
            return { status: res.status, body: (await res.json()) as { error?: string } };
          },
          {
            path: `/requests/${requestId}/approval/verify`,
            body: captured ?? '',
            csrf: csrf ?? '',
          },
        );
      expect(await replay(second.requestId)).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
      });
      expect(await replay(request.requestId)).toMatchObject({ status: 400 });
      const [still] = await db
        .select({ status: cibaRequests.status })
        .from(cibaRequests)
        .where(eq(cibaRequests.id, second.requestId));
      expect(still?.status).toBe('pending');
      expect(await db.select().from(grants)).toHaveLength(1);
      // Chromium logs the two refused replays as failed loads; they are the test's own doing.
      expect(problems).toEqual(Array(2).fill(expect.stringContaining('status of 400') as string));
      problems.splice(0);

      // Revoking from the dashboard ends the grant.
      await page.goto(`${server.url}/`);
      await button('Revoke').click();
      await page.getByText(/No agent can act for you right now/).waitFor();
      const [revoked] = await db.select().from(grants);
      expect(revoked).toMatchObject({
        status: 'revoked',
        revocationReason: 'revoked by the person',
      });

      expect(problems).toEqual([]);
    },
  );

  it(
    'tells the agent no when the person denies, and when nobody answers in time',
    {
      timeout: 90_000,
    },
    async () => {
      await registerPasskey();
      const config = await agentClient();

      const denied = await ask(config);
      await page.goto(`${server.url}/requests/${denied.requestId}`);
      await button('Deny').click();
      await page.getByText(/You denied this request/).waitFor();
      syncClock();
      await expect(oidc.pollBackchannelAuthenticationGrant(config, denied)).rejects.toMatchObject({
        error: 'access_denied',
      });

      const late = await ask(config, { requested_expiry: '60' });
      server.app.clock.advance(120);
      await page.goto(`${server.url}/requests/${late.requestId}`);
      await page.getByText(/This request expired/).waitFor();
      expect(await button('Approve with passkey').count()).toBe(0);
      await screenshot(page, 'approval-expired');
      // The broker's clock is now ahead of real time, so this poll signs at the broker's time.
      const res = await server.app.hono.request(
        `${server.url}/oauth/token`,
        form({
          grant_type: CIBA,
          auth_req_id: late.auth_req_id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await clientAssertion({ ...agentKey, tenantId: '' }, server.url, {
            now: server.app.clock.now(),
          }),
        }),
      );
      expect(await res.json()).toMatchObject({ error: 'expired_token' });
      expect(problems).toEqual([]);
    },
  );
});
