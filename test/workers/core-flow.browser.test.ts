/**
 * The core flow, once on each runtime, from one file so that the two can never drift:
 * the Node server (the suite's driver: PGlite or PostgreSQL) and the Worker under
 * workerd, built by wrangler from wrangler.toml, on PostgreSQL through a local
 * Hyperdrive binding.
 *
 * Metadata and JWKS; an agent (the agent SDK, DPoP-bound) asks by CIBA; the person
 * registers a passkey and approves in real Chromium with a virtual authenticator; the
 * agent mints a per-task token; an API's verifier SDK accepts it, then reports an
 * overrun; the token is revoked, which the signed status list shows, a verifier
 * following the event stream learns, and a fresh verifier refuses. The cron run
 * (a timer on Node) chains the audit ledger, which then verifies.
 */
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import {
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chainAndCheckpoint } from '../../src/audit/chainer.ts';
import { verifyLedger } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/database.ts';
import { issuedTokens, tenants } from '../../src/db/schema.ts';
import { randomToken } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { inviteUser } from '../../src/registry/users.ts';
import { createAgent, generateAgentKey, publicJwks } from '../../src/sdk/agent.ts';
import {
  createVerifier,
  mandateAuth,
  requireScope,
  type MandateEnv,
  type Verifier,
} from '../../src/sdk/verifier.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  startTestServer,
  pageProblems,
} from '../helpers/browser.ts';
import { startTestWorker } from '../helpers/worker.ts';

const MAIL = 'https://mail.acme.example/';
/** Both runtimes poll for revocations every second, so the event stream is quick to tell. */
const ENV = { MANDATE_CIBA_INTERVAL: '1', MANDATE_REVOCATION_POLL_INTERVAL: '1' };

/** One running broker, whichever runtime. */
interface Target {
  url: string;
  /** The tables' owner's view, to set up what an operator's CLI would and to inspect. */
  owner: Database;
  /** Brings the broker's clock to real time (the Node test server's clock is a test clock). */
  sync(): void;
  /** What the broker does periodically: chain and checkpoint the audit ledger. */
  housekeeping(): Promise<void>;
  close(): Promise<void>;
}

const runtimes: Record<string, () => Promise<Target>> = {
  async node() {
    const server = await startTestServer(ENV);
    const { app } = server;
    return {
      url: server.url,
      owner: app.owner,
      sync: () => app.clock.advance((Date.now() - app.clock.now().getTime()) / 1000),
      housekeeping: () => chainAndCheckpoint(app.deps),
      close: () => server.close(),
    };
  },
  async workerd() {
    const worker = await startTestWorker(ENV);
    return {
      url: worker.url,
      owner: worker.database.owner,
      sync: () => {},
      housekeeping: () => worker.scheduled(),
      close: () => worker.close(),
    };
  },
};

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(Object.keys(runtimes))('the core flow on %s', (runtime) => {
  let target: Target;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  /** Which API instance the agent's calls to MAIL reach; the broker is reached over HTTP. */
  let serving: Hono<MandateEnv> | undefined;
  const verifiers: Verifier[] = [];

  beforeEach(async () => {
    target = await runtimes[runtime]!();
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    problems = pageProblems(page);
  });
  afterEach(async () => {
    serving = undefined;
    await Promise.all(verifiers.splice(0).map((v) => v.close()));
    await context?.close();
    await target?.close();
  });

  const button = (name: string) => page.getByRole('button', { name, exact: true });
  const heading = (name: string) => page.getByRole('heading', { name, exact: true });

  /** What the operator's CLI would set up: a tenant, an API, an agent and an invite. */
  async function seed() {
    const db = target.owner;
    await createTenant(db, 'acme');
    const apiKey = await generateKeyPair('EdDSA', { extractable: true });
    const apiJwk: JWK = { ...(await exportJWK(apiKey.publicKey)), kid: randomToken(8) };
    const api = await addApi(db, {
      tenant: 'acme',
      name: 'Acme Mail',
      audience: MAIL,
      jwks: { keys: [apiJwk] },
      scopes: [
        {
          name: 'mail:read',
          description: 'Read the messages in your mailbox',
          sensitivity: 'read',
        },
        { name: 'mail:send', description: 'Send email in your name', sensitivity: 'write' },
      ],
    });
    const agentKey = await generateAgentKey();
    const agent = await addAgent(db, {
      tenant: 'acme',
      name: 'Mail assistant',
      jwks: publicJwks(agentKey),
    });
    const invitation = await inviteUser(
      db,
      { tenant: 'acme', email: 'ada@example.com' },
      { publicUrl: target.url, inviteTtl: 3600, clock: { now: () => new Date() } },
    );
    return {
      inviteUrl: invitation.invite_url,
      agent: { clientId: agent.client_id, key: agentKey },
      api: { clientId: api.client_id, privateKey: apiKey.privateKey, kid: apiJwk.kid ?? '' },
    };
  }

  /** The API: the verifier SDK's Hono middleware in front of two routes. */
  function mailApi(v: Verifier): Hono<MandateEnv> {
    const app = new Hono<MandateEnv>();
    app.use('*', mandateAuth(v));
    app.get('/inbox', requireScope('mail:read'), (c) => c.json({ for: c.var.mandate.claims.sub }));
    app.post('/send', requireScope('mail:send'), (c) => c.json({ sent: true }));
    return app;
  }
  const agentFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(MAIL)) return fetch(request);
    if (!serving) throw new Error('no API instance is serving');
    return serving.fetch(request);
  };

  function verifier(
    api: { clientId: string; privateKey: CryptoKey; kid: string },
    events: boolean,
  ) {
    const v = createVerifier({
      issuer: target.url,
      audience: MAIL,
      client: api,
      events,
      onError: () => {},
    });
    verifiers.push(v);
    return v;
  }

  it(
    'metadata, a passkey-approved CIBA grant, a per-task token, an overrun revoked',
    { timeout: 120_000 },
    async () => {
      const { inviteUrl, agent: agentSetup, api } = await seed();

      // Metadata names this broker, and its JWKS holds the signing key.
      const metadata = (await (
        await fetch(`${target.url}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({
        issuer: target.url,
        jwks_uri: `${target.url}/.well-known/jwks.json`,
        token_endpoint: `${target.url}/oauth/token`,
        backchannel_authentication_endpoint: expect.any(String) as string,
      });
      const jwks = (await (await fetch(String(metadata.jwks_uri))).json()) as JSONWebKeySet;
      expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
      expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);

      // The person makes a passkey from the invite.
      await addVirtualAuthenticator(page);
      await page.goto(inviteUrl);
      await button('Create passkey').click();
      await heading('Dashboard').waitFor();

      // The agent asks; the dashboard shows it; the person approves with the passkey.
      target.sync();
      const agent = await createAgent({
        issuer: target.url,
        clientId: agentSetup.clientId,
        key: agentSetup.key,
        dpop: true,
        allowInsecureRequests: true,
        fetch: agentFetch,
      });
      const pending = await agent.requestGrant({
        loginHint: 'ada@example.com',
        scope: 'mail:read mail:send',
        resource: MAIL,
        bindingMessage: 'Inbox triage',
      });
      const granted = agent.waitForGrant(pending);
      await page.getByRole('link', { name: 'Review' }).click();
      await heading('Mail assistant asks to act for you').waitFor();
      await button('Approve with passkey').click();
      await page.getByText(/You approved this request/).waitFor();
      target.sync();
      const grant = await granted;

      // A per-task token: one API, one scope, DPoP-bound.
      const task = await agent.mintTaskToken(grant, { resource: MAIL, scope: 'mail:read' });
      const claims = decodeJwt(task.token);
      expect(claims).toMatchObject({ iss: target.url, aud: MAIL, scope: 'mail:read' });
      const { payload } = await jwtVerify(task.token, createLocalJWKSet(jwks), {
        issuer: target.url,
        audience: MAIL,
        typ: 'at+jwt',
      });
      expect(payload.cnf).toEqual({ jkt: expect.any(String) as string });

      // The API verifies it with the verifier SDK, following the revocation event stream.
      const reporter = verifier(api, true);
      const watcher = verifier(api, true);
      await Promise.all([reporter.ready(), watcher.ready()]);
      expect([reporter.live, watcher.live]).toEqual([true, true]);
      serving = mailApi(watcher);
      const inbox = () => agent.fetch(task, `${MAIL}inbox`);
      expect(await (await inbox()).json()).toEqual({ for: claims.sub });
      serving = mailApi(reporter);
      const read = await inbox();
      expect(read.status).toBe(200);

      // The agent tries to send with a read token: the API refuses and reports the overrun.
      const send = await agent.fetch(task, `${MAIL}send`, { method: 'POST' });
      expect(send.status).toBe(403);
      expect(await send.json()).toMatchObject({ error: 'insufficient_scope' });
      await expect
        .poll(async () => {
          const [row] = await target.owner
            .select({ revokedAt: issuedTokens.revokedAt })
            .from(issuedTokens)
            .where(eq(issuedTokens.jti, String(claims.jti)));
          return row?.revokedAt ?? null;
        })
        .not.toBeNull();

      // The signed status list shows it...
      const status = claims.status as { status_list: { idx: number; uri: string } };
      const listJwt = await (await fetch(status.status_list.uri)).text();
      await jwtVerify(listJwt, createLocalJWKSet(jwks), {
        issuer: target.url,
        typ: 'statuslist+jwt',
      });
      expect(getListFromStatusListJWT(listJwt).getStatus(status.status_list.idx)).toBe(1);
      // ...an API instance without the event stream reads it there and refuses the token...
      serving = mailApi(verifier(api, false));
      const refused = await inbox();
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/invalid_token/);
      // ...and the one following the stream, which never saw the report, learns of it.
      serving = mailApi(watcher);
      await expect.poll(async () => (await inbox()).status, { timeout: 15_000 }).toBe(401);

      // The periodic run chains the ledger; it verifies against the published keys.
      await target.housekeeping();
      const [tenant] = await target.owner.select().from(tenants).where(eq(tenants.slug, 'acme'));
      const ledger = await verifyLedger(
        target.owner,
        { jwks: () => Promise.resolve(jwks) },
        { tenantId: tenant?.id ?? '', jwks },
      );
      expect(ledger.ok, JSON.stringify(ledger.problems)).toBe(true);
      expect(ledger.entries).toBeGreaterThan(3);
      expect(ledger.links).toBe(ledger.entries);
      expect(ledger.checkpoints).toBeGreaterThanOrEqual(1);

      // Pages, scripts and passkey ceremonies ran without an error or a blocked load.
      expect(problems).toEqual([]);
    },
  );
});
