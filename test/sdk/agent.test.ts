/**
 * mandate/agent against the real broker, in-process: the SDK's fetch is routed into the
 * app (and into a small API that checks tokens and DPoP proofs the way a resource server
 * must), with the broker's clock kept at real time while the SDK signs with it. The
 * person's approval is made through the delegation world's helpers, without a browser.
 */
import { and, eq, isNotNull } from 'drizzle-orm';
import { Hono } from 'hono';
import {
  base64url,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants } from '../../src/db/schema.ts';
import { addAgent } from '../../src/registry/agents.ts';
import {
  createAgent,
  generateAgentKey,
  MandateAgentError,
  publicJwks,
  type AgentKey,
  type AgentOptions,
  type MandateAgent,
  type PendingGrant,
} from '../../src/sdk/agent.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import {
  approve,
  deny,
  MAIL,
  REPOS,
  requestIdOf,
  type World,
  createWorld,
} from '../delegation/world.ts';
import { introspect } from '../oauth/task-world.ts';

let w: World;
let key: AgentKey;
let clientId: string;
/** Tokens the test API saw, with what it verified. */
let seen: { claims: JWTPayload; scheme: string; proofJkt: string | undefined }[];

beforeEach(async () => {
  w = await createWorld({ MANDATE_CIBA_INTERVAL: '1' });
  ({ key, clientId } = await register('SDK agent'));
  seen = [];
  tokenCalls = [];
  injectTokenError = undefined;
});
afterEach(async () => w.t.close());

async function register(name: string): Promise<{ key: AgentKey; clientId: string }> {
  const k = await generateAgentKey();
  const { client_id } = await addAgent(w.t.owner, {
    tenant: 'acme',
    name,
    jwks: publicJwks(k),
  });
  return { key: k, clientId: client_id };
}

/** The repos API: verifies the at+jwt against the broker's JWKS and, when bound, the DPoP proof. */
function reposApi(t: TestApp): Hono {
  const api = new Hono();
  api.get('/repos', async (c) => {
    const [scheme, token] = (c.req.header('authorization') ?? '').split(' ');
    if (!token) return c.json({ error: 'invalid_token' }, 401);
    const { payload } = await jwtVerify(token, createLocalJWKSet(await t.deps.keys.jwks()), {
      issuer: ISSUER,
      audience: REPOS,
      typ: 'at+jwt',
    });
    const jkt = (payload.cnf as { jkt?: string } | undefined)?.jkt;
    let proofJkt: string | undefined;
    const proof = c.req.header('dpop');
    if (proof) {
      const { jwk } = decodeProtectedHeader(proof) as { jwk: JWK };
      const { payload: p } = await jwtVerify(proof, jwk, { typ: 'dpop+jwt' });
      const ath = base64url.encode(
        new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))),
      );
      expect(p).toMatchObject({ htm: 'GET', htu: `${REPOS}repos`, ath });
      proofJkt = await calculateJwkThumbprint(jwk);
    }
    seen.push({ claims: payload, scheme: scheme ?? '', proofJkt });
    if (jkt !== undefined && (scheme !== 'DPoP' || proofJkt !== jkt)) {
      return c.json({ error: 'invalid_token' }, 401, {
        'www-authenticate': 'DPoP error="invalid_token"',
      });
    }
    return c.json({ repos: ['mandate'] });
  });
  return api;
}

/** Routes the SDK's requests into the broker app or the API, keeping the broker's clock real. */
/** What reached the token endpoint: when, and the OAuth error it got (or 'ok'). */
let tokenCalls: { at: number; outcome: string; dpopNonce: boolean }[] = [];
/** Answers the next token-endpoint call itself, as a broker under load might. */
let injectTokenError: string | undefined;

/** Routes the SDK's requests into the broker app or the API, keeping the broker's clock real. */
function inProcess(t: TestApp): typeof fetch {
  const api = reposApi(t);
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    t.clock.advance((Date.now() - t.clock.now().getTime()) / 1000);
    if (url.startsWith(REPOS)) return api.request(url, init);
    if (!url.startsWith(ISSUER)) throw new TypeError(`no route to ${url}`);
    if (url !== `${ISSUER}/oauth/token`) return t.hono.request(url, init);
    const proof = new Headers(init?.headers).get('dpop');
    const dpopNonce = proof !== null && 'nonce' in decodeJwt(proof);
    if (injectTokenError) {
      tokenCalls.push({ at: Date.now(), outcome: injectTokenError, dpopNonce });
      const error = injectTokenError;
      injectTokenError = undefined;
      return Response.json({ error }, { status: 400 });
    }
    const res = await t.hono.request(url, init);
    const body = (await res.clone().json()) as { error?: string };
    tokenCalls.push({ at: Date.now(), outcome: body.error ?? 'ok', dpopNonce });
    return res;
  };
}

function connect(options: Partial<AgentOptions> = {}): Promise<MandateAgent> {
  return createAgent({
    issuer: ISSUER,
    clientId,
    key,
    fetch: inProcess(w.t),
    allowInsecureRequests: true,
    ...options,
  });
}

const ask = (agent: MandateAgent) =>
  agent.requestGrant({
    loginHint: 'ada@example.com',
    scope: ['repo:read', 'repo:write', 'mail:send'],
    resource: [REPOS, MAIL],
    bindingMessage: 'Release 4.2',
    requestedExpiry: 120,
    task: {
      purpose: 'Tag release 4.2',
      identifier: 'release-4.2',
      duration: 7200,
      maxTokenTtl: 120,
    },
  });

async function approved(agent: MandateAgent, pending?: PendingGrant) {
  const p = pending ?? (await ask(agent));
  await approve(w, await requestIdOf(w.t, p.authReqId));
  return agent.waitForGrant(p);
}

const claimsOf = (token: string) => decodeJwt(token);

describe('mandate/agent: asking for a grant (CIBA)', () => {
  it('sends every parameter the person will see, and gets the request handle', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    expect(pending.interval).toBe(1);
    expect(pending.expiresIn).toBeLessThanOrEqual(120);
    expect(pending.expiresAt.getTime()).toBeGreaterThan(Date.now());
    const [row] = await w.t.owner
      .select()
      .from(cibaRequests)
      .where(eq(cibaRequests.id, await requestIdOf(w.t, pending.authReqId)));
    expect(row).toMatchObject({
      clientId,
      bindingMessage: 'Release 4.2',
      requestedGrantTtl: 7200,
      requested: [
        { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
        { resource: MAIL, scopes: ['mail:send'] },
      ],
      authorizationDetails: [
        expect.objectContaining({
          type: 'agent_task',
          identifier: 'release-4.2',
          max_token_ttl: 120,
        }),
      ],
    });
  });

  it('waits while the person decides, then returns the grant', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    const grant = agent.waitForGrant(pending);
    await new Promise((r) => setTimeout(r, 1500)); // at least one authorization_pending
    await approve(w, await requestIdOf(w.t, pending.authReqId));
    const { handle, firstToken, dpopBound } = await grant;
    expect(handle).toEqual(expect.any(String));
    expect(dpopBound).toBe(false);
    expect(firstToken).toMatchObject({ tokenType: 'Bearer', scope: 'repo:read repo:write' });
    expect(claimsOf(firstToken.token)).toMatchObject({ aud: REPOS, client_id: clientId });
  });

  it('picks the API of the first token with resource', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    await approve(w, await requestIdOf(w.t, pending.authReqId));
    const grant = await agent.waitForGrant(pending, { resource: MAIL });
    expect(claimsOf(grant.firstToken.token)).toMatchObject({ aud: MAIL, scope: 'mail:send' });
  });

  it('reports a denial as access_denied', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    await deny(w, await requestIdOf(w.t, pending.authReqId));
    const err = await agent.waitForGrant(pending).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MandateAgentError);
    expect(err).toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'access_denied', status: 400 });
  });

  it('honours slow_down: five more seconds between polls from then on (CIBA §11)', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    injectTokenError = 'slow_down';
    const grant = agent.waitForGrant(pending);
    await approve(w, await requestIdOf(w.t, pending.authReqId));
    await grant;
    expect(tokenCalls.map((c) => c.outcome)).toEqual(['slow_down', 'ok']);
    const [first, second] = tokenCalls;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual((pending.interval + 5) * 1000 - 50);
  }, 20_000);

  it('stops waiting when the caller aborts, whatever the reason', async () => {
    const agent = await connect();
    const pending = await ask(agent);
    const started = Date.now();
    await expect(
      agent.waitForGrant(pending, { signal: AbortSignal.timeout(300) }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_ABORTED' });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('the person walked away')), 300);
    await expect(agent.waitForGrant(pending, { signal: stop.signal })).rejects.toMatchObject({
      code: 'ERR_AGENT_ABORTED',
      message: expect.stringMatching(/caller stopped waiting/) as unknown,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses an unknown person or scope with the broker’s own error', async () => {
    const agent = await connect();
    await expect(
      agent.requestGrant({ loginHint: 'nobody@example.com', scope: 'repo:read', resource: REPOS }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'unknown_user_id' });
    await expect(
      agent.requestGrant({ loginHint: 'ada@example.com', scope: 'repo:admin', resource: REPOS }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'invalid_scope' });
  });
});

describe('mandate/agent: task tokens and API calls', () => {
  it('mints one token per task, for one API and a narrower scope, with the task in it', async () => {
    const agent = await connect();
    const grant = await approved(agent);
    const token = await agent.mintTaskToken(grant, {
      resource: REPOS,
      scope: 'repo:read',
      task: { identifier: 'list-1', purpose: 'List the repositories', maxTokenTtl: 60 },
    });
    expect(token).toMatchObject({
      tokenType: 'Bearer',
      scope: 'repo:read',
      issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(token.expiresIn).toBeLessThanOrEqual(60);
    expect(claimsOf(token.token)).toMatchObject({
      aud: REPOS,
      scope: 'repo:read',
      act: { sub: clientId },
      task: { id: 'list-1', purpose: 'List the repositories' },
    });
    const res = await agent.fetch(token, `${REPOS}repos`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ repos: ['mandate'] });
    expect(seen[0]).toMatchObject({ scheme: 'Bearer', proofJkt: undefined });
  });

  it('refuses a scope beyond the grant as invalid_scope', async () => {
    const agent = await connect();
    const grant = await approved(agent);
    await expect(
      agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:admin' }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'invalid_scope' });
  });

  it('mints the verifiable-credential form on request', async () => {
    const agent = await connect();
    const grant = await approved(agent);
    const vc = await agent.mintTaskToken(grant, {
      resource: REPOS,
      scope: 'repo:read',
      format: 'vc',
    });
    expect(vc).toMatchObject({
      tokenType: 'N_A',
      issuedTokenType: 'urn:mandate:token-type:vc+jwt',
    });
    expect(decodeProtectedHeader(vc.token).typ).toBe('vc+jwt');
  });
});

describe('mandate/agent: DPoP', () => {
  it('binds the grant and every token to one key, and signs API calls with it', async () => {
    const agent = await connect({ dpop: true });
    const jkt = await calculateJwkThumbprint(agent.dpopKey!.publicJwk);
    const grant = await approved(agent);
    expect(grant.dpopBound).toBe(true);
    expect(grant.firstToken.tokenType).toBe('DPoP');
    const [row] = await w.t.owner.select().from(grants);
    expect(row?.dpopJkt).toBe(jkt);

    const token = await agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    expect(token.tokenType).toBe('DPoP');
    expect(claimsOf(token.token).cnf).toEqual({ jkt });
    const res = await agent.fetch(token, `${REPOS}repos`);
    expect(res.status).toBe(200);
    expect(seen[0]).toMatchObject({ scheme: 'DPoP', proofJkt: jkt });
    // A token passed as a string is recognised as bound by its cnf claim.
    expect((await agent.fetch(token.token, `${REPOS}repos`)).status).toBe(200);
  });

  it('lets only the holder of the DPoP key mint under a bound grant', async () => {
    const agent = await connect({ dpop: true });
    const grant = await approved(agent);
    const withoutDpop = await connect();
    await expect(withoutDpop.mintTaskToken(grant, { resource: REPOS })).rejects.toMatchObject({
      code: 'ERR_AGENT_OPTION',
    });
    await expect(
      withoutDpop.mintTaskToken(grant.handle, { resource: REPOS }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'invalid_grant' });
    const otherKey = await connect({ dpop: true });
    await expect(otherKey.mintTaskToken(grant, { resource: REPOS })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // The same key, in a restarted agent, keeps working.
    const restarted = await connect({ dpop: agent.dpopKey });
    const token = await restarted.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    expect(token.tokenType).toBe('DPoP');
  });

  it('follows the broker’s nonce when it requires one', async () => {
    await w.t.close();
    w = await createWorld({ MANDATE_CIBA_INTERVAL: '1', MANDATE_DPOP_REQUIRE_NONCE: 'true' });
    ({ key, clientId } = await register('SDK agent'));
    const agent = await connect({ dpop: true });
    const grant = await approved(agent);
    expect(grant.firstToken.tokenType).toBe('DPoP');
    const token = await agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    expect(token.tokenType).toBe('DPoP');
    const vc = await agent.mintTaskToken(grant, { resource: REPOS, format: 'vc' });
    expect(vc.tokenType).toBe('N_A');
    const subAgent = await connect({ ...(await register('Sub-agent')), dpop: true });
    const child = await subAgent.exchangeToken(token, { scope: 'repo:read' });
    expect(child.scope).toBe('repo:read');
    // The first proof, without a nonce, was answered use_dpop_nonce and retried with one;
    // every proof the broker accepted carried a nonce (polls, the mints and the exchange).
    const outcomes = tokenCalls.map((c) => `${c.outcome}${c.dpopNonce ? '+nonce' : ''}`);
    expect(outcomes[0]).toBe('use_dpop_nonce');
    expect(outcomes.filter((o) => o === 'ok+nonce')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'ok' || o === 'authorization_pending')).toEqual([]);
  });
});

describe('mandate/agent: sub-agents and revocation', () => {
  it('exchanges a parent token for a narrower one, acting as the sub-agent', async () => {
    const agent = await connect({ dpop: true });
    const grant = await approved(agent);
    const parent = await agent.mintTaskToken(grant, {
      resource: REPOS,
      task: { identifier: 'release', purpose: 'Tag release 4.2' },
    });
    const sub = await register('Sub-agent');
    const subAgent = await connect({ ...sub, dpop: true });
    const child = await subAgent.exchangeToken(parent, { scope: 'repo:read' });
    expect(child).toMatchObject({
      scope: 'repo:read',
      tokenType: 'DPoP',
      issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(child.expiresAt.getTime()).toBeLessThanOrEqual(parent.expiresAt.getTime() + 1000);
    expect(claimsOf(child.token)).toMatchObject({
      aud: REPOS,
      client_id: sub.clientId,
      act: { sub: sub.clientId, act: { sub: clientId } },
      task: { id: 'release' },
      // Bound to the sub-agent's own DPoP key, not the parent's.
      cnf: { jkt: await calculateJwkThumbprint(subAgent.dpopKey!.publicJwk) },
    });
    const res = await subAgent.fetch(child, `${REPOS}repos`);
    expect(res.status).toBe(200);
    // Wider than the parent: refused.
    await expect(subAgent.exchangeToken(child, { scope: 'repo:write' })).rejects.toMatchObject({
      code: 'ERR_AGENT_OAUTH',
      error: 'invalid_scope',
    });
  });

  it('exchanges an unbound parent without DPoP, and refuses a bound one to a sub-agent without a key', async () => {
    const agent = await connect();
    const grant = await approved(agent);
    const parent = await agent.mintTaskToken(grant, { resource: REPOS });
    const subAgent = await connect({ ...(await register('Sub-agent')) });
    const child = await subAgent.exchangeToken(parent.token);
    expect(child).toMatchObject({ tokenType: 'Bearer', scope: 'repo:read repo:write' });
    expect((await subAgent.fetch(child, `${REPOS}repos`)).status).toBe(200);

    const bound = await connect({ dpop: true });
    const boundGrant = await approved(bound);
    const boundParent = await bound.mintTaskToken(boundGrant, { resource: REPOS });
    await expect(subAgent.exchangeToken(boundParent)).rejects.toMatchObject({
      code: 'ERR_AGENT_OAUTH',
      error: 'invalid_request',
    });
  });

  it('revokes a token, then the grant and everything under it', async () => {
    const agent = await connect({ dpop: true });
    const grant = await approved(agent);
    const a = await agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    const b = await agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    const active = async (token: string) =>
      ((await (await introspect(w, w.acme.api, token)).json()) as { active: boolean }).active;
    expect(await active(a.token)).toBe(true);
    await agent.revokeToken(a);
    expect(await active(a.token)).toBe(false);
    expect(await active(b.token)).toBe(true);
    await agent.revokeGrant(grant);
    expect(await active(b.token)).toBe(false);
    await expect(agent.mintTaskToken(grant, { resource: REPOS })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});

describe('mandate/agent: connecting', () => {
  it('refuses plain http unless asked, and then only on loopback', async () => {
    await expect(connect({ allowInsecureRequests: false })).rejects.toMatchObject({
      code: 'ERR_AGENT_OPTION',
    });
    await expect(
      connect({ issuer: 'http://broker.example', allowInsecureRequests: true }),
    ).rejects.toMatchObject({
      code: 'ERR_AGENT_OPTION',
      message: expect.stringMatching(/loopback/) as unknown,
    });
  });

  it('refuses to send a token over plain http beyond loopback', async () => {
    const agent = await connect();
    await expect(agent.fetch('a.b.c', 'http://api.example/repos')).rejects.toMatchObject({
      code: 'ERR_AGENT_OPTION',
    });
  });

  it('discovers the broker’s metadata', async () => {
    const agent = await connect();
    expect(agent.issuer).toBe(ISSUER);
    expect(agent.serverMetadata()).toMatchObject({
      backchannel_authentication_endpoint: `${ISSUER}/oauth/backchannel`,
    });
    expect(agent.dpopKey).toBeUndefined();
  });

  it('fails client authentication with an unregistered key as invalid_client', async () => {
    const agent = await connect({ key: await generateAgentKey() });
    await expect(
      agent.requestGrant({ loginHint: 'ada@example.com', scope: 'repo:read', resource: REPOS }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_OAUTH', error: 'invalid_client', status: 401 });
  });
});

describe('mandate/agent: what the policy decides', () => {
  const MINT = 'action == Mandate::Action::"MintTaskToken"';
  const push = (text: string) =>
    w.t.policy?.push(
      w.acme.tenantId,
      `@id("permit-all")\npermit (principal, action, resource);\n${text}`,
      'test',
    );

  it('shows what the policy narrowed, and waits for the person on an escalated task', async () => {
    const agent = await connect();
    const grant = await approved(agent);
    await push(
      `@id("short-reads")\n@outcome("adapt")\n@max_ttl("15")\npermit (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:read" };\n` +
        `@id("writes-need-the-person")\n@outcome("escalate")\npermit (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:write" && !context.fresh_approval };\n`,
    );
    const read = await agent.mintTaskToken(grant, { resource: REPOS, scope: 'repo:read' });
    expect(read.expiresIn).toBe(15);
    expect(read.policy).toMatchObject({
      outcome: 'ADAPT',
      policies: ['short-reads'],
      narrowed: { expires_in: { granted: 15 } },
    });

    const write = {
      resource: REPOS,
      scope: 'repo:write',
      task: { identifier: 'tag', purpose: 'Tag 1.0' },
    };
    // Without waiting: the broker's authorization_pending, as an error.
    await expect(agent.mintTaskToken(grant, write)).rejects.toMatchObject({
      code: 'ERR_AGENT_OAUTH',
      error: 'authorization_pending',
    });
    // Waiting, and the caller gives up.
    await expect(
      agent.mintTaskToken(grant, {
        ...write,
        waitForApproval: { interval: 0.05, signal: AbortSignal.timeout(200) },
      }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_ABORTED' });
    // A signal already aborted when the broker answers pending stops at once.
    await expect(
      agent.mintTaskToken(grant, {
        ...write,
        waitForApproval: { interval: 0.05, signal: AbortSignal.abort() },
      }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_ABORTED' });
    // Waiting while the person approves.
    const waiting = agent.mintTaskToken(grant, { ...write, waitForApproval: { interval: 0.05 } });
    const [escalation] = await w.t.owner
      .select({ id: cibaRequests.id })
      .from(cibaRequests)
      // Opened by the first refused mint; every retry since answered from the same one.
      .where(and(eq(cibaRequests.clientId, clientId), isNotNull(cibaRequests.escalatesGrantId)));
    await approve(w, escalation?.id ?? '', {
      resources: [{ resource: REPOS, scopes: ['repo:write'] }],
    });
    const token = await waiting;
    expect(token.scope).toBe('repo:write');
    expect(claimsOf(token.token)).toMatchObject({ task: { id: 'tag' } });
  });
});
