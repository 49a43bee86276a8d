/**
 * The cross-tenant matrix: every endpoint and operator command, tried by one tenant's
 * clients, people and operator against another tenant's grants, tokens, requests,
 * agents, APIs and ledger, with look-alike names everywhere (the same agent name and
 * the same person's email in both tenants, an audience one slash away from acme's, a
 * tenant slug one letter-pair away). Every attempt gets its exact refusal (or, where
 * the standard says so, a harmless success such as RFC 7009's 200) and the database
 * is left exactly as it was (state.ts). The construction underneath is in
 * tenancy.test.ts.
 */
import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEntries, sessions, tenants, users } from '../../src/db/schema.ts';
import { runCommand } from '../../src/operator/commands.ts';
import { addApi } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { RegistryError } from '../../src/registry/errors.ts';
import { cookieSettings } from '../../src/passkeys/session.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { agent, person, post, requestIdOf, startRequest, TOKEN } from '../delegation/world.ts';
import type { TestClient } from '../helpers/clients.ts';
import { exchange } from '../tokens/exchange-world.ts';
import {
  createTaskWorld,
  introspect,
  mintOk,
  revoke,
  type TaskWorld,
} from '../oauth/task-world.ts';
import { ISSUER } from '../helpers/app.ts';
import { openEvents } from '../revocation/revocation-world.ts';
import { stateDigest } from './state.ts';

let w: TaskWorld;
/** Globex's look-alikes of acme's things. */
let mallory: {
  agent: TestClient;
  api: TestClient;
  session: { cookie: string; csrf: string };
  acrneAgent: TestClient;
};
/** Acme's things globex reaches for. */
let acme: { token: string; requestId: string; authReqId: string; entryId: number };

const REPOS_LOOKALIKE = 'https://repos.acme.example'; // acme's is https://repos.acme.example/

async function sessionFor(userId: string, tenantId: string) {
  const secret = randomToken(32);
  const csrf = randomToken(32);
  const now = w.t.clock.now();
  await w.t.owner.insert(sessions).values({
    idHash: await sha256base64url(secret),
    tenantId,
    userId,
    csrfToken: csrf,
    createdAt: now,
    expiresAt: new Date(now.getTime() + 3600_000),
  });
  return { cookie: `${cookieSettings(w.t.deps.config).name}=${secret}`, csrf };
}

beforeAll(async () => {
  w = await createTaskWorld();
  // Look-alikes: globex has a person with Ada's email, an agent with acme's agent's name
  // (createWorld gave it "Release bot" too), an API whose audience differs from acme's
  // by one slash; a third tenant's slug differs from "acme" by rn/m.
  const adaInGlobex = await person(w.t, 'globex', 'ada@example.com');
  await w.t.owner.update(users).set({ status: 'active' }).where(eq(users.id, adaInGlobex));
  const keys = await generateKeyPair('EdDSA', { extractable: true });
  const publicJwk = { ...(await exportJWK(keys.publicKey)), alg: 'EdDSA', kid: 'lookalike' };
  const { client_id } = await addApi(w.t.owner, {
    tenant: 'globex',
    audience: REPOS_LOOKALIKE,
    jwks: { keys: [publicJwk] },
    scopes: [{ name: 'repo:read', description: 'Reads', sensitivity: 'read' }],
  });
  await createTenant(w.t.owner, 'acrne');
  const [acrne] = await w.t.owner.select().from(tenants).where(eq(tenants.slug, 'acrne'));
  mallory = {
    agent: w.globex.agent,
    api: {
      clientId: client_id,
      tenantId: w.globex.tenantId,
      privateKey: keys.privateKey,
      publicJwk,
    },
    session: await sessionFor(adaInGlobex, w.globex.tenantId),
    acrneAgent: await agent(w.t, 'acrne', acrne?.id ?? '', 'Release bot'),
  };
  const minted = await mintOk(w, { resource: 'https://repos.acme.example/', scope: 'repo:read' });
  // A revocation in acme, so that acme's REPOS stream has an event to leak.
  const revoked = await mintOk(w, { resource: 'https://repos.acme.example/', scope: 'repo:read' });
  await revoke(w, w.acme.agent, revoked.access_token);
  const pending = await startRequest(w);
  const [entry] = await w.t.owner
    .select({ id: auditEntries.id })
    .from(auditEntries)
    .where(eq(auditEntries.tenantId, w.acme.tenantId))
    .limit(1);
  acme = {
    token: minted.access_token,
    requestId: await requestIdOf(w.t, pending.auth_req_id),
    authReqId: pending.auth_req_id,
    entryId: entry?.id ?? 0,
  };
});
afterAll(async () => w.t.close());

async function oauthError(res: Response): Promise<{ status: number; error?: string }> {
  const body = (await res.json()) as { error?: string };
  return { status: res.status, error: body.error };
}

/** Runs an operator command as the CLI would, on the broker's own (mandate_app) handle. */
async function operator(name: string, args: Record<string, unknown>) {
  const ctx = {
    db: w.t.deps.database.db,
    keys: w.t.deps.keys,
    config: w.t.deps.config,
    clock: w.t.clock,
  };
  return runCommand(ctx, name, args).then(
    (result) => ({ ok: true as const, result }),
    (err: unknown) => ({
      ok: false as const,
      code: err instanceof RegistryError ? err.code : String(err),
    }),
  );
}

const page = (path: string, init: RequestInit = {}) =>
  w.t.request(path, {
    ...init,
    headers: {
      cookie: mallory.session.cookie,
      'x-csrf-token': mallory.session.csrf,
      origin: 'http://localhost:8787',
      ...(init.headers as Record<string, string> | undefined),
    },
  });

interface Case {
  name: string;
  attempt: () => Promise<unknown>;
  expected: unknown;
}

const cases: Case[] = [
  {
    name: "CIBA: globex's agent asks globex's Ada for acme's API",
    attempt: async () =>
      oauthError(
        await post(w.t, '/oauth/backchannel', mallory.agent, {
          login_hint: 'ada@example.com',
          scope: 'repo:read',
          resource: 'https://repos.acme.example/',
        }),
      ),
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'CIBA: a third tenant whose slug looks like acme asks for acme’s Ada and API',
    attempt: async () =>
      oauthError(
        await post(w.t, '/oauth/backchannel', mallory.acrneAgent, {
          login_hint: 'ada@example.com',
          scope: 'repo:read',
          resource: 'https://repos.acme.example/',
        }),
      ),
    expected: { status: 400, error: 'unknown_user_id' },
  },
  {
    name: "CIBA poll: globex's agent polls acme's auth_req_id",
    attempt: async () =>
      oauthError(
        await post(w.t, TOKEN, mallory.agent, {
          grant_type: 'urn:openid:params:grant-type:ciba',
          auth_req_id: acme.authReqId,
        }),
      ),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: "mint: globex's same-named agent presents acme's grant handle",
    attempt: async () =>
      oauthError(
        await post(w.t, TOKEN, mallory.agent, {
          grant_type: 'refresh_token',
          refresh_token: w.handle,
          resource: 'https://repos.acme.example/',
          scope: 'repo:read',
        }),
      ),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: "exchange: globex's agent trades acme's access token",
    attempt: async () =>
      oauthError(
        await exchange(w, mallory.agent, acme.token, {
          resource: 'https://repos.acme.example/',
          scope: 'repo:read',
        }),
      ),
    // RFC 8693 §2.2.2: an invalid subject_token is invalid_request.
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: "introspection: globex's look-alike API asks about acme's token",
    attempt: async () => {
      const res = await introspect(w, mallory.api, acme.token);
      return { status: res.status, body: (await res.json()) as unknown };
    },
    expected: { status: 200, body: { active: false } },
  },
  {
    name: "revocation: globex's agent revokes acme's token (RFC 7009: 200, and nothing happens)",
    attempt: async () => {
      const res = await revoke(w, mallory.agent, acme.token);
      const still = (await (await introspect(w, w.acme.api, acme.token)).json()) as {
        active: boolean;
      };
      return { status: res.status, stillActive: still.active };
    },
    expected: { status: 200, stillActive: true },
  },
  {
    name: "overrun: globex's look-alike API reports acme's token",
    attempt: async () =>
      oauthError(
        await post(w.t, '/oauth/overrun', mallory.api, {
          token: acme.token,
          attempted_scope: 'repo:write',
        }),
      ),
    expected: { status: 403, error: 'access_denied' },
  },
  {
    name: "events: globex's look-alike API replays its stream from the start",
    attempt: async () => {
      // Acme's own API sees the revocation (the control); globex's look-alike sees nothing.
      const replay = async (api: TestClient) => {
        const stream = await openEvents(async (url, init) => w.t.hono.request(url, init), api, {
          lastEventId: '0',
          now: w.t.clock.now(),
          issuer: ISSUER,
        });
        try {
          await stream.next((m) => m.event === 'ready');
          return {
            status: stream.status,
            events: stream.messages.filter((m) => m.event !== 'ready'),
          };
        } finally {
          stream.close();
        }
      };
      const acmeSees = (await replay(w.acme.api)).events.length;
      return { ...(await replay(mallory.api)), acmeSees };
    },
    expected: { status: 200, events: [], acmeSees: 1 },
  },
  {
    name: "page: globex's Ada's dashboard lists none of acme's pending requests",
    attempt: async () => {
      const html = await (await page('/')).text();
      return { signedIn: html.includes('ada@example.com'), leaks: html.includes(acme.requestId) };
    },
    expected: { signedIn: true, leaks: false },
  },
  {
    name: "page: globex's Ada opens acme's request",
    attempt: async () => (await page(`/requests/${acme.requestId}`)).status,
    expected: 404,
  },
  {
    name: "page: globex's Ada starts approving acme's request",
    attempt: async () =>
      oauthError(
        await page(`/requests/${acme.requestId}/approval/options`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            resources: [{ resource: 'https://repos.acme.example/', scopes: ['repo:read'] }],
            duration: 3600,
          }),
        }),
      ),
    // The answer an unknown or already-decided request gets: nothing to learn.
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: "page: globex's Ada denies acme's request",
    attempt: async () =>
      oauthError(
        await page(`/requests/${acme.requestId}/deny`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `csrf=${mallory.session.csrf}`,
        }),
      ),
    // The answer an unknown or already-decided request gets: nothing to learn.
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: "page: globex's Ada revokes acme's grant",
    attempt: async () => {
      const res = await page(`/grants/${w.grantId}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `csrf=${mallory.session.csrf}`,
      });
      return res.status;
    },
    expected: 303,
  },
  {
    name: "page: globex's Ada reads her agents' activity",
    attempt: async () => {
      const body = (await (await page('/activity.json')).json()) as {
        agents: { agent: string }[];
      };
      return body.agents.filter((a) => a.agent === w.acme.agent.clientId);
    },
    expected: [],
  },
  {
    name: "CLI: globex's agent list shows its own Release bot only",
    attempt: async () => {
      const r = await operator('agent list', { tenant: 'globex' });
      return r.ok
        ? (r.result.agents as { client_id: string }[]).some(
            (a) => a.client_id === w.acme.agent.clientId,
          )
        : r;
    },
    expected: false,
  },
  {
    name: "CLI: disable acme's agent through globex",
    attempt: () =>
      operator('agent disable', { tenant: 'globex', client_id: w.acme.agent.clientId }),
    expected: { ok: false, code: 'ERR_NOT_FOUND' },
  },
  {
    name: "CLI: disable acme's API through globex, by its audience",
    attempt: () =>
      operator('api disable', { tenant: 'globex', audience: 'https://repos.acme.example/' }),
    expected: { ok: false, code: 'ERR_NOT_FOUND' },
  },
  {
    name: "CLI: verify acme's grant through globex",
    attempt: () => operator('grant verify', { tenant: 'globex', grant_id: w.grantId }),
    expected: { ok: false, code: 'ERR_NOT_FOUND' },
  },
  {
    name: "CLI: summarise acme's agent through globex",
    attempt: () => operator('audit summary', { tenant: 'globex', agent: w.acme.agent.clientId }),
    expected: { ok: false, code: 'ERR_NOT_FOUND' },
  },
  {
    name: "CLI: replay acme's ledger entry through globex",
    attempt: () => operator('audit replay', { tenant: 'globex', entry_id: String(acme.entryId) }),
    expected: { ok: false, code: 'ERR_NOT_FOUND' },
  },
  {
    name: "CLI: export globex's ledger holds none of acme's entries",
    attempt: async () => {
      const r = await operator('audit export', { tenant: 'globex' });
      if (!r.ok) return r;
      return (r.result.lines as { tenant_id: string }[]).filter(
        (l) => l.tenant_id === w.acme.tenantId,
      );
    },
    expected: [],
  },
  {
    name: "CLI: verify globex's ledger reports globex's chain only",
    attempt: async () => {
      const r = await operator('audit verify', { tenant: 'globex' });
      return r.ok ? (r.result.tenants as { tenant: string }[]).map((t) => t.tenant) : r;
    },
    expected: ['globex'],
  },
  {
    name: "CLI: list the look-alike tenant's APIs",
    attempt: async () => {
      const r = await operator('api list', { tenant: 'acrne' });
      return r.ok ? r.result : r;
    },
    expected: { apis: [] },
  },
];

describe('cross-tenant matrix (look-alike names and ids)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await stateDigest(w.t, { ignore: ['status_lists'] });
    expect(await c.attempt()).toEqual(c.expected);
    expect(await stateDigest(w.t, { ignore: ['status_lists'] })).toBe(before);
  });
});
