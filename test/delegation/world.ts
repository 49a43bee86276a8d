/**
 * A realistic little world for delegation tests, seeded through the registry
 * functions an operator uses: two tenants, each with an active person, an
 * agent and an API; the same email exists in both tenants on purpose.
 */
import type { TestDatabase } from '../helpers/db.ts';
import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { cibaRequests, tenants, users } from '../../src/db/schema.ts';
import type { ApprovalEvidence } from '../../src/db/schema.ts';
import { approveRequest, denyRequest } from '../../src/delegation/decide.ts';
import type { GrantPolicyNote } from '../../src/delegation/grant-policy.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { sha256base64url, randomToken } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { inviteUser } from '../../src/registry/users.ts';
import { createTestApp, ISSUER, type TestApp } from '../helpers/app.ts';
import { clientAssertion, form, type TestClient } from '../helpers/clients.ts';

export const BACKCHANNEL = '/oauth/backchannel';
export const TOKEN = '/oauth/token';
export const CIBA = 'urn:openid:params:grant-type:ciba';
export const REPOS = 'https://repos.acme.example/';
export const MAIL = 'https://mail.acme.example/';
export const OTHER_API = 'https://repos.globex.example/';

export interface TenantWorld {
  slug: string;
  tenantId: string;
  userId: string;
  agent: TestClient;
  api: TestClient;
}

export interface World {
  t: TestApp;
  acme: TenantWorld & { otherAgent: TestClient; mailApi: TestClient };
  globex: TenantWorld;
}

type Alg = 'EdDSA' | 'ES256';

async function keyPair(alg: Alg = 'EdDSA'): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), alg, kid: randomToken(8) } };
}

export async function agent(
  t: TestApp,
  tenant: string,
  tenantId: string,
  name: string,
  alg: Alg = 'EdDSA',
): Promise<TestClient> {
  const keys = await keyPair(alg);
  const { client_id } = await addAgent(t.owner, {
    tenant,
    name,
    jwks: { keys: [keys.publicJwk] },
  });
  return { clientId: client_id, tenantId, ...keys };
}

async function api(
  t: TestApp,
  tenant: string,
  tenantId: string,
  audience: string,
  scopes: string[],
): Promise<TestClient> {
  const keys = await keyPair();
  const { client_id } = await addApi(t.owner, {
    tenant,
    audience,
    jwks: { keys: [keys.publicJwk] },
    scopes: scopes.map((name) => ({ name, description: `Allows ${name}`, sensitivity: 'read' })),
  });
  return { clientId: client_id, tenantId, ...keys };
}

export async function person(
  t: TestApp,
  tenant: string,
  email: string,
  status: 'invited' | 'active' | 'disabled' = 'active',
): Promise<string> {
  const { user_id } = await inviteUser(
    t.owner,
    { tenant, email },
    { publicUrl: ISSUER, inviteTtl: 3600, clock: t.clock },
  );
  // Registering a passkey activates a person; that ceremony is tested elsewhere.
  if (status !== 'invited')
    await t.owner.update(users).set({ status }).where(eq(users.id, user_id));
  return user_id;
}

async function tenantIdOf(t: TestApp, slug: string): Promise<string> {
  await createTenant(t.owner, slug);
  const [row] = await t.owner.select().from(tenants).where(eq(tenants.slug, slug));
  if (!row) throw new Error('tenant vanished');
  return row.id;
}

export async function createWorld(
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<World> {
  const t = await createTestApp(env, database);
  const acmeId = await tenantIdOf(t, 'acme');
  const globexId = await tenantIdOf(t, 'globex');
  return {
    t,
    acme: {
      slug: 'acme',
      tenantId: acmeId,
      userId: await person(t, 'acme', 'ada@example.com'),
      agent: await agent(t, 'acme', acmeId, 'Release bot'),
      otherAgent: await agent(t, 'acme', acmeId, 'Triage bot'),
      api: await api(t, 'acme', acmeId, REPOS, ['repo:read', 'repo:write']),
      mailApi: await api(t, 'acme', acmeId, MAIL, ['mail:send']),
    },
    globex: {
      slug: 'globex',
      tenantId: globexId,
      userId: await person(t, 'globex', 'grace@example.com'),
      agent: await agent(t, 'globex', globexId, 'Release bot'),
      api: await api(t, 'globex', globexId, OTHER_API, ['repo:read', 'deploy']),
    },
  };
}

/** A form POST carrying a fresh, valid client assertion for `client`. */
export async function post(
  t: TestApp,
  path: string,
  client: TestClient,
  params: Record<string, string | string[]>,
): Promise<Response> {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(client, ISSUER, { now: t.clock.now() }),
  });
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  }
  const init = form({});
  return t.request(path, { ...init, body: body.toString() });
}

export const backchannel = (
  w: World,
  params: Record<string, string | string[]>,
  client = w.acme.agent,
) => post(w.t, BACKCHANNEL, client, params);

export const poll = (
  w: World,
  authReqId: string,
  client = w.acme.agent,
  extra: Record<string, string | string[]> = {},
) => post(w.t, TOKEN, client, { grant_type: CIBA, auth_req_id: authReqId, ...extra });

/** A valid request from Ada's agent for both APIs. */
export const validRequest = {
  login_hint: 'ada@example.com',
  scope: 'openid repo:read repo:write mail:send',
  resource: [REPOS, MAIL],
  binding_message: 'Release 4.2',
  authorization_details: JSON.stringify([
    {
      type: 'agent_task',
      identifier: 'task-42',
      purpose: 'Tag release 4.2',
      duration: 7200,
      max_token_ttl: 120,
    },
  ]),
};

export async function startRequest(
  w: World,
  params: Record<string, string | string[]> = validRequest,
) {
  const res = await backchannel(w, params);
  if (res.status !== 200) throw new Error(`backchannel failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { auth_req_id: string; expires_in: number; interval: number };
  return { ...body, requestId: await requestIdOf(w.t, body.auth_req_id) };
}

export async function requestIdOf(t: TestApp, authReqId: string): Promise<string> {
  const hash = await sha256base64url(authReqId);
  const [row] = await t.owner
    .select({ id: cibaRequests.id })
    .from(cibaRequests)
    .where(eq(cibaRequests.authReqIdHash, hash));
  if (!row) throw new Error('no such request');
  return row.id;
}

/** The passkey evidence is verified elsewhere; these tests need only a grant to exist. */
export const placeholderEvidence: ApprovalEvidence = {
  credential_id: 'test-credential',
  authenticator_data: '',
  client_data_json: '',
  signature: '',
  user_handle: null,
  document: '{}',
  origin: ISSUER,
  rp_id: 'localhost',
};

/**
 * Ada approves (placeholder evidence), as the passkey step would after its checks:
 * the tenant's policy is asked (Approve) like there. Throws if the policy refused.
 */
export async function approve(
  w: World,
  requestId: string,
  options: {
    resources?: { resource: string; scopes: string[] }[];
    grantTtl?: number;
    maxTokenTtl?: number;
  } = {},
): Promise<{ grantId: string; note?: GrantPolicyNote | undefined }> {
  const now = w.t.clock.now();
  const result = await approveRequest(w.t.owner, {
    tenantId: w.acme.tenantId,
    userId: w.acme.userId,
    requestId,
    resources: options.resources ?? [
      { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
      { resource: MAIL, scopes: ['mail:send'] },
    ],
    grantExpiresAt: new Date(now.getTime() + (options.grantTtl ?? 7200) * 1000),
    maxTokenTtl: options.maxTokenTtl ?? 120,
    evidence: placeholderEvidence,
    now,
    policy: w.t.policy && { engine: w.t.policy, grantMaxTtl: w.t.deps.config.grantMaxTtl },
  });
  if (result.kind === 'refused') throw new Error(`the policy refused: ${result.explanation}`);
  return result;
}

export const deny = (w: World, requestId: string) =>
  denyRequest(w.t.owner, {
    tenantId: w.acme.tenantId,
    userId: w.acme.userId,
    requestId,
    now: w.t.clock.now(),
  });
