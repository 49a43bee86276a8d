/**
 * ESCALATE as people and agents meet it: the agent (openid-client over real HTTP)
 * holds a grant, the tenant's policy wants the person's fresh approval for one task,
 * the agent's mint answers authorization_pending; the person (real Chromium, virtual
 * passkey) finds the task on the dashboard, sees it is a fresh approval under the
 * grant they gave, approves with the passkey; the agent's retry gets the token, once.
 */
import { and, eq, isNotNull } from 'drizzle-orm';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, tenants } from '../../src/db/schema.ts';
import { randomToken } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  screenshot,
  startTestServer,
  type TestServer,
  pageProblems,
} from '../helpers/browser.ts';
import { invite } from './fixtures.ts';

const REPOS = 'https://repos.acme.example/';

const ESCALATE_WRITES = `@id("permit-all")
permit (principal, action, resource);

@id("writes-need-the-person")
@outcome("escalate")
permit (principal, action == Mandate::Action::"MintTaskToken", resource is Mandate::Scope)
when { resource.name == "repo:write" && !context.fresh_approval };
`;

let browser: Browser;
let server: TestServer;
let context: BrowserContext;
let page: Page;
let problems: string[];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  server = await startTestServer({ MANDATE_CIBA_INTERVAL: '1' });
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  problems = pageProblems(page);
});
afterEach(async () => {
  await context?.close();
  await server?.close();
});

/** The server's clock is a TestClock; keep it at real time while real clients sign assertions. */
function syncClock(): void {
  server.app.clock.advance((Date.now() - server.app.clock.now().getTime()) / 1000);
}

const button = (name: string) => page.getByRole('button', { name, exact: true });
const heading = (name: string) => page.getByRole('heading', { name, exact: true });

async function seed(): Promise<oidc.Configuration> {
  const db = server.app.owner;
  await createTenant(db, 'acme');
  const api = await generateKeyPair('EdDSA', { extractable: true });
  await addApi(db, {
    tenant: 'acme',
    name: 'Acme Repos',
    audience: REPOS,
    jwks: { keys: [{ ...(await exportJWK(api.publicKey)), alg: 'EdDSA', kid: randomToken(8) }] },
    scopes: [
      { name: 'repo:read', description: 'Read your repositories', sensitivity: 'read' },
      { name: 'repo:write', description: 'Push to your repositories', sensitivity: 'write' },
    ],
  });
  const agent = await generateKeyPair('EdDSA', { extractable: true });
  const kid = randomToken(8);
  // No `alg` on the key: openid-client signs Ed25519 as alg "Ed25519" (RFC 9864).
  const { client_id } = await addAgent(db, {
    tenant: 'acme',
    name: 'Release bot',
    jwks: { keys: [{ ...(await exportJWK(agent.publicKey)), kid }] },
  });
  return oidc.discovery(
    new URL(server.url),
    client_id,
    {},
    oidc.PrivateKeyJwt({ key: agent.privateKey, kid }),
    { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] },
  );
}

/** Invite → passkey → CIBA request → approve in the browser → the agent redeems its grant handle. */
async function grantHandle(config: oidc.Configuration): Promise<string> {
  await addVirtualAuthenticator(page);
  const { url } = await invite(server.app, 'ada@example.com', 'acme');
  await page.goto(url);
  await button('Create passkey').click();
  await heading('Dashboard').waitFor();
  syncClock();
  const started = await oidc.initiateBackchannelAuthentication(config, {
    login_hint: 'ada@example.com',
    scope: 'repo:read repo:write',
    resource: REPOS,
    authorization_details: JSON.stringify([
      { type: 'agent_task', purpose: 'Cut releases this week', duration: 86_400 },
    ]),
  });
  await page.getByRole('link', { name: 'Review' }).click();
  await button('Approve with passkey').click();
  await page.getByText(/You approved this request/).waitFor();
  syncClock();
  const tokens = await oidc.pollBackchannelAuthenticationGrant(config, started);
  if (!tokens.refresh_token) throw new Error('no grant handle');
  return tokens.refresh_token;
}

const writeTask = (config: oidc.Configuration, handle: string) => {
  syncClock();
  return oidc.refreshTokenGrant(config, handle, {
    resource: REPOS,
    scope: 'repo:write',
    authorization_details: JSON.stringify([
      { type: 'agent_task', identifier: 'release-1.4', purpose: 'Tag release 1.4' },
    ]),
  });
};

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: unknown) => (e instanceof oidc.ResponseBodyError ? e.error : String(e)),
  );

describe('a task the policy escalates, in a real browser', () => {
  it(
    'waits for the person’s fresh passkey approval on the same page, then mints once',
    { timeout: 90_000 },
    async () => {
      const config = await seed();
      const handle = await grantHandle(config);
      const db = server.app.owner;
      const [tenant] = await db.select().from(tenants).where(eq(tenants.slug, 'acme'));
      await server.app.policy?.push(tenant?.id ?? '', ESCALATE_WRITES, 'test');

      expect(await errorOf(writeTask(config, handle))).toBe('authorization_pending');
      // Reading needs nobody.
      syncClock();
      const read = await oidc.refreshTokenGrant(config, handle, {
        resource: REPOS,
        scope: 'repo:read',
      });
      expect(read.scope).toBe('repo:read');

      // The person's dashboard shows the escalation like any request.
      await page.goto(`${server.url}/`);
      await page.getByRole('link', { name: 'Review' }).click();
      await page.getByText(/approve this one task afresh/).waitFor();
      expect(await page.getByText('Tag release 1.4').count()).toBe(1);
      expect(await page.getByRole('checkbox', { name: 'repo:write' }).isDisabled()).toBe(true);
      expect(await page.getByLabel('The permission lasts').count()).toBe(0);
      await screenshot(page, 'escalation');
      await button('Approve with passkey').click();
      await page.getByText(/You approved this request/).waitFor();

      const token = await writeTask(config, handle);
      expect(token.scope).toBe('repo:write');
      const { payload } = await jwtVerify(
        token.access_token,
        createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)),
        { issuer: server.url, audience: REPOS, typ: 'at+jwt' },
      );
      expect(payload.task).toEqual({ id: 'release-1.4', purpose: 'Tag release 1.4' });
      const approved = await db
        .select({ evidence: cibaRequests.evidence })
        .from(cibaRequests)
        .where(and(isNotNull(cibaRequests.escalatesGrantId), eq(cibaRequests.status, 'approved')));
      expect(approved).toHaveLength(1);
      expect(approved[0]?.evidence?.rp_id).toBe(new URL(server.url).hostname);

      // One token per fresh approval.
      expect(await errorOf(writeTask(config, handle))).toBe('authorization_pending');
      expect(problems).toEqual([]);
    },
  );
});
