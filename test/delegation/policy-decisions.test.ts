/**
 * The policy at the two delegation decision points, through the broker's own
 * endpoints: RequestGrant at the CIBA backchannel endpoint, and Approve when the
 * person completes a passkey approval. Each outcome is seen by the agent and the
 * person as docs/POLICY.md says, stores exactly what it should, is recorded in the
 * ledger with the bundle, risk score and inputs that decided it, and replays.
 */
import { and, asc, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  apiScopes,
  auditEntries,
  cibaRequests,
  grants,
  issuedTokens,
} from '../../src/db/schema.ts';
import { expectEveryDecisionReplays as replayAll } from '../helpers/policy.ts';
import { verifyGrantEvidence } from '../../src/delegation/evidence.ts';
import { defaultBundleRef } from '../../src/policy/bundles.ts';
import { PERMIT_ALL } from '../helpers/policy.ts';
import { createTaskWorld, expectOAuthError, mint, type TaskWorld } from '../oauth/task-world.ts';
import { csrfOf, postJson, registeredPerson, type Registered } from '../passkeys/ceremonies.ts';
import {
  approve,
  backchannel,
  createWorld,
  MAIL,
  poll,
  REPOS,
  requestIdOf,
  startRequest,
  validRequest,
  type World,
} from './world.ts';

let w: World;
afterEach(async () => w.t.close());

const engine = () => {
  if (!w.t.policy) throw new Error('no policy engine');
  return w.t.policy;
};
const push = (policies: string) => engine().push(w.acme.tenantId, policies, 'test');

const REQUEST = 'action == Mandate::Action::"RequestGrant"';
const APPROVE = 'action == Mandate::Action::"Approve"';

/** The tenant's ledger entries of one action, oldest first. */
async function entries(action: string) {
  return w.t.owner
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.tenantId, w.acme.tenantId), eq(auditEntries.action, action)))
    .orderBy(asc(auditEntries.id));
}

/** Everything a decision point could store: requests, grants, tokens, the ledger's actions. */
async function stored() {
  const db = w.t.owner;
  const ledger = await db
    .select({ action: auditEntries.action })
    .from(auditEntries)
    .where(eq(auditEntries.tenantId, w.acme.tenantId))
    .orderBy(asc(auditEntries.id));
  return {
    requests: await db.select().from(cibaRequests).orderBy(asc(cibaRequests.id)),
    grants: await db.select().from(grants).orderBy(asc(grants.id)),
    tokens: await db.select({ jti: issuedTokens.jti }).from(issuedTokens),
    ledger: ledger.map((e) => e.action),
  };
}

/** Every recorded decision of the tenant replays to its recorded outcome; returns how many. */
const expectEveryDecisionReplays = () => replayAll(w.t, w.acme.tenantId);

const asked = {
  agent: () => w.acme.agent.clientId,
  targets: [
    {
      audience: REPOS,
      scopes: [
        { name: 'repo:read', sensitivity: 'read' },
        { name: 'repo:write', sensitivity: 'read' },
      ],
    },
    { audience: MAIL, scopes: [{ name: 'mail:send', sensitivity: 'read' }] },
  ],
  task: { id: 'task-42', purpose: 'Tag release 4.2' },
};

describe('RequestGrant, at the backchannel authentication endpoint', () => {
  beforeEach(async () => {
    w = await createWorld();
  });

  it('ALLOW: the shipped default stores the request as asked and records the decision on grant.requested', async () => {
    const res = await backchannel(w, validRequest);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { auth_req_id: string };
    expect(Object.keys(body).sort()).toEqual(['auth_req_id', 'expires_in', 'interval']);
    const requestId = await requestIdOf(w.t, body.auth_req_id);

    const now = await stored();
    expect(now.requests).toHaveLength(1);
    expect(now.requests[0]).toMatchObject({
      id: requestId,
      status: 'pending',
      requested: [
        { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
        { resource: MAIL, scopes: ['mail:send'] },
      ],
      requestedGrantTtl: 7200,
      authorizationDetails: [expect.objectContaining({ duration: 7200, max_token_ttl: 120 })],
    });
    expect(now.grants).toEqual([]);
    expect(now.tokens).toEqual([]);
    expect(now.ledger).toEqual(['grant.requested']);

    const [entry] = await entries('grant.requested');
    const shipped = await defaultBundleRef();
    expect(entry).toMatchObject({
      actor: `agent:${asked.agent()}`,
      subject: `request:${requestId}`,
      decision: 'ALLOW',
      policyId: shipped.id,
      policyVersion: 0,
      policyDigest: shipped.digest,
      inputs: {
        // The entry's own inputs and the decision's, side by side.
        agent: asked.agent(),
        person: w.acme.userId,
        binding_message: 'Release 4.2',
        requested: [
          { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
          { resource: MAIL, scopes: ['mail:send'] },
        ],
        v: 1,
        decision_request: {
          action: 'RequestGrant',
          agent: asked.agent(),
          person: w.acme.userId,
          targets: asked.targets,
          task: asked.task,
          requestedTtl: 7200,
          ttlCeiling: w.t.deps.config.grantMaxTtl,
          signals: { firstUse: true, recentCount: 0, recentOverruns: 0 },
        },
      },
    });
    expect(entry?.riskScore).toBeTypeOf('number');
    expect(await expectEveryDecisionReplays()).toBe(1);
  });

  it('ALLOW without a duration asks about MANDATE_GRANT_TTL; ESCALATE goes ahead like ALLOW', async () => {
    const pushed = await push(
      `${PERMIT_ALL}@id("ask-the-person")\n@outcome("escalate")\npermit (principal, ${REQUEST}, resource);\n`,
    );
    const res = await backchannel(w, {
      login_hint: 'ada@example.com',
      scope: 'repo:read',
      resource: REPOS,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).not.toHaveProperty('policy');
    const [request] = (await stored()).requests;
    expect(request).toMatchObject({
      status: 'pending',
      requested: [{ resource: REPOS, scopes: ['repo:read'] }],
      requestedGrantTtl: null,
    });
    const [entry] = await entries('grant.requested');
    expect(entry).toMatchObject({
      decision: 'ESCALATE',
      policyId: pushed.id,
      inputs: { decision_request: { requestedTtl: w.t.deps.config.grantTtl } },
    });
    expect(await expectEveryDecisionReplays()).toBe(1);
  });

  it('DENY: 403 access_denied with the explanation; nothing stored but grant.refused', async () => {
    const pushed = await push(
      `${PERMIT_ALL}@id("no-mail-for-bots")\nforbid (principal, ${REQUEST}, resource is Mandate::Scope)\nwhen { resource.name == "mail:send" };\n`,
    );
    const before = await stored();
    const res = await backchannel(w, validRequest);
    const error = await expectOAuthError(res, 'access_denied', 403);
    expect(error.error_description).toBe('refused by policy: DENY: forbidden by no-mail-for-bots');
    expect(await stored()).toEqual({ ...before, ledger: [...before.ledger, 'grant.refused'] });

    const [refused] = await entries('grant.refused');
    expect(refused).toMatchObject({
      actor: `agent:${asked.agent()}`,
      subject: `user:${w.acme.userId}`,
      decision: 'DENY',
      policyId: pushed.id,
      policyVersion: pushed.version,
      policyDigest: pushed.digest,
      inputs: {
        agent: asked.agent(),
        person: w.acme.userId,
        requested: [
          { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
          { resource: MAIL, scopes: ['mail:send'] },
        ],
        task: { identifier: 'task-42', duration: 7200 },
        v: 1,
        decision_request: { action: 'RequestGrant', targets: asked.targets, requestedTtl: 7200 },
      },
    });
    // What the policy does not forbid still goes through.
    const ok = await backchannel(w, { ...validRequest, scope: 'repo:read', resource: REPOS });
    expect(ok.status).toBe(200);
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('ADAPT: stores the narrowed request and says what was narrowed', async () => {
    await push(
      `${PERMIT_ALL}@id("no-mail-grants")\n@outcome("adapt")\n@drop_scope\npermit (principal, ${REQUEST}, resource is Mandate::Scope)\nwhen { resource.name == "mail:send" };\n` +
        `@id("grants-last-an-hour")\n@outcome("adapt")\n@max_ttl("3600")\npermit (principal, ${REQUEST}, resource);\n`,
    );
    const before = await stored();
    const res = await backchannel(w, validRequest);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { auth_req_id: string };
    expect(body).toMatchObject({
      expires_in: w.t.deps.config.cibaRequestTtl,
      policy: {
        outcome: 'ADAPT',
        policies: ['no-mail-grants', 'grants-last-an-hour'],
        explanation:
          'ADAPT: lifetime capped at 3600 s (was 7200 s) by grants-last-an-hour; dropped mail:send by no-mail-grants',
        narrowed: {
          resources: [
            { resource: MAIL, requested: 'mail:send', granted: '', dropped: 'mail:send' },
          ],
          duration: { requested: 7200, granted: 3600 },
        },
      },
    });

    const after = await stored();
    expect(after.grants).toEqual(before.grants);
    expect(after.tokens).toEqual(before.tokens);
    expect(after.ledger).toEqual([...before.ledger, 'grant.requested']);
    expect(after.requests).toHaveLength(1);
    const requestId = await requestIdOf(w.t, body.auth_req_id);
    expect(after.requests[0]).toMatchObject({
      id: requestId,
      requested: [{ resource: REPOS, scopes: ['repo:read', 'repo:write'] }],
      requestedGrantTtl: 3600,
      // The task's own duration is narrowed too: the grant echoes it to the agent.
      authorizationDetails: [expect.objectContaining({ duration: 3600, max_token_ttl: 120 })],
    });

    const [entry] = await entries('grant.requested');
    expect(entry).toMatchObject({
      decision: 'ADAPT',
      inputs: {
        requested: [{ resource: REPOS, scopes: ['repo:read', 'repo:write'] }],
        task: { duration: 3600 },
        // What was asked, as the policy saw it.
        decision_request: { targets: asked.targets, requestedTtl: 7200 },
      },
    });

    // The person is offered no more than the policy left.
    const person = await registeredPerson(w.t, 'ada@example.com', 'acme');
    const page = await w.t.request(`/requests/${requestId}`, {
      headers: { cookie: person.cookie },
    });
    const html = await page.text();
    expect(html).toContain('repo:write');
    expect(html).not.toContain('mail:send');
    expect(await expectEveryDecisionReplays()).toBe(1);
  });

  it('ADAPT to a grant shorter than a person can approve is refused like DENY', async () => {
    const pushed = await push(
      `${PERMIT_ALL}@id("grants-last-seconds")\n@outcome("adapt")\n@max_ttl("30")\npermit (principal, ${REQUEST}, resource);\n`,
    );
    const before = await stored();
    const error = await expectOAuthError(await backchannel(w, validRequest), 'access_denied', 403);
    expect(error.error_description).toContain('shortest grant a person can approve (60 s)');
    expect(await stored()).toEqual({ ...before, ledger: [...before.ledger, 'grant.refused'] });
    const [refused] = await entries('grant.refused');
    expect(refused).toMatchObject({ decision: 'ADAPT', policyId: pushed.id });
    expect(await expectEveryDecisionReplays()).toBe(1);
  });
});

describe('Approve, when the person completes a passkey approval', () => {
  let person: Registered;
  let request: Awaited<ReturnType<typeof startRequest>>;
  beforeEach(async () => {
    w = await createWorld();
    person = await registeredPerson(w.t, 'ada@example.com', 'acme');
    expect(person.userId).toBe(w.acme.userId);
    // Asked under the shipped default (RequestGrant: ALLOW); bundles are pushed afterwards.
    request = await startRequest(w);
  });

  const headers = async () => ({
    cookie: person.cookie,
    'x-csrf-token': await csrfOf(w.t, person.userId),
    origin: new URL(w.t.deps.config.publicUrl).origin,
  });

  /** Options for approving everything asked for an hour, then the passkey's assertion. */
  async function assertion() {
    const options = await postJson(
      w.t,
      `/requests/${request.requestId}/approval/options`,
      {
        resources: [
          { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
          { resource: MAIL, scopes: ['mail:send'] },
        ],
        duration: 3600,
      },
      await headers(),
    );
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    return person.auth.assert(options.body as unknown as { challenge: string; rpId?: string });
  }

  const verify = async (response: unknown) =>
    postJson(w.t, `/requests/${request.requestId}/approval/verify`, { response }, await headers());

  it('ALLOW: creates the grant as approved and records the decision on grant.approved', async () => {
    const response = await assertion();
    const before = await stored();
    const answer = await verify(response);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).not.toHaveProperty('policy');
    const grantId = String(answer.body.grant_id);
    expect(answer.body).toEqual({
      status: 'approved',
      grant_id: grantId,
      redirect: `/requests/${request.requestId}`,
    });

    const after = await stored();
    expect(after.ledger).toEqual([...before.ledger, 'grant.approved']);
    expect(after.tokens).toEqual([]);
    expect(after.grants).toHaveLength(1);
    const now = w.t.clock.now().getTime();
    expect(after.grants[0]).toMatchObject({
      id: grantId,
      resources: [
        { resource: REPOS, scopes: ['repo:read', 'repo:write'] },
        { resource: MAIL, scopes: ['mail:send'] },
      ],
      maxTokenTtl: 120,
      expiresAt: new Date(now + 3600_000),
    });
    expect(after.requests[0]).toMatchObject({ status: 'approved', grantId });
    expect((await verifyGrantEvidence(w.t.owner, w.acme.tenantId, grantId))?.ok).toBe(true);

    const [entry] = await entries('grant.approved');
    expect(entry).toMatchObject({
      actor: `user:${w.acme.userId}`,
      subject: `grant:${grantId}`,
      decision: 'ALLOW',
      policyVersion: 0,
      inputs: {
        request: request.requestId,
        max_token_ttl: 120,
        expires: new Date(now + 3600_000).toISOString(),
        v: 1,
        decision_request: {
          action: 'Approve',
          agent: asked.agent(),
          person: w.acme.userId,
          targets: asked.targets,
          task: asked.task,
          requestedTtl: 3600,
          ttlCeiling: w.t.deps.config.grantMaxTtl,
          freshApproval: true,
        },
      },
    });
    expect((await poll(w, request.auth_req_id)).status).toBe(200);
    // RequestGrant and Approve.
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('DENY: 403 access_denied, the request denied by the broker, no grant; the agent’s poll gets access_denied', async () => {
    const pushed = await push(
      `${PERMIT_ALL}@id("no-writes-approved")\nforbid (principal, ${APPROVE}, resource is Mandate::Scope)\nwhen { resource.name == "repo:write" };\n`,
    );
    const response = await assertion();
    const before = await stored();
    const answer = await verify(response);
    expect(answer.status, JSON.stringify(answer.body)).toBe(403);
    expect(answer.body).toEqual({
      error: 'access_denied',
      error_description: 'refused by policy: DENY: forbidden by no-writes-approved',
    });

    const after = await stored();
    expect(after.grants).toEqual([]);
    expect(after.tokens).toEqual([]);
    expect(after.ledger).toEqual([...before.ledger, 'grant.denied']);
    expect(after.requests).toEqual([
      { ...before.requests[0], status: 'denied', decidedAt: w.t.clock.now() },
    ]);
    const [denied] = await entries('grant.denied');
    expect(denied).toMatchObject({
      actor: 'broker',
      subject: `request:${request.requestId}`,
      decision: 'DENY',
      policyId: pushed.id,
      policyVersion: pushed.version,
      policyDigest: pushed.digest,
      inputs: {
        agent: asked.agent(),
        person: w.acme.userId,
        credential: person.auth.credentialId,
        decision_request: { action: 'Approve', freshApproval: true, targets: asked.targets },
      },
    });

    // The challenge was used: the same assertion cannot be tried again.
    const again = await verify(response);
    expect(again.status).toBe(400);
    expect(await stored()).toEqual(after);
    await expectOAuthError(await poll(w, request.auth_req_id), 'access_denied');
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('ADAPT: creates the grant narrowed (scopes, expiry, token lifetime) and the answer says so', async () => {
    await push(
      `${PERMIT_ALL}@id("no-mail-approved")\n@outcome("adapt")\n@drop_scope\npermit (principal, ${APPROVE}, resource is Mandate::Scope)\nwhen { resource.name == "mail:send" };\n` +
        `@id("approved-grants-short")\n@outcome("adapt")\n@max_ttl("60")\npermit (principal, ${APPROVE}, resource);\n`,
    );
    const response = await assertion();
    const before = await stored();
    const answer = await verify(response);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const grantId = String(answer.body.grant_id);
    expect(answer.body).toEqual({
      status: 'approved',
      grant_id: grantId,
      redirect: `/requests/${request.requestId}`,
      policy: {
        outcome: 'ADAPT',
        policies: ['no-mail-approved', 'approved-grants-short'],
        explanation:
          'ADAPT: lifetime capped at 60 s (was 3600 s) by approved-grants-short; dropped mail:send by no-mail-approved',
        narrowed: {
          resources: [
            { resource: MAIL, requested: 'mail:send', granted: '', dropped: 'mail:send' },
          ],
          duration: { requested: 3600, granted: 60 },
          max_token_ttl: { requested: 120, granted: 60 },
        },
      },
    });

    const after = await stored();
    expect(after.ledger).toEqual([...before.ledger, 'grant.approved']);
    expect(after.tokens).toEqual([]);
    const now = w.t.clock.now().getTime();
    expect(after.grants).toEqual([
      expect.objectContaining({
        id: grantId,
        resources: [
          expect.objectContaining({ resource: REPOS, scopes: ['repo:read', 'repo:write'] }),
        ],
        maxTokenTtl: 60,
        expiresAt: new Date(now + 60_000),
      }),
    ]);
    const [entry] = await entries('grant.approved');
    expect(entry).toMatchObject({
      decision: 'ADAPT',
      inputs: {
        resources: [{ resource: REPOS, scopes: ['repo:read', 'repo:write'] }],
        max_token_ttl: 60,
        expires: new Date(now + 60_000).toISOString(),
        decision_request: { action: 'Approve', targets: asked.targets, requestedTtl: 3600 },
      },
    });

    const res = await poll(w, request.auth_req_id);
    expect(res.status).toBe(200);
    const token = (await res.json()) as { scope: string; expires_in: number };
    expect(token).toMatchObject({ scope: 'repo:read repo:write', expires_in: 60 });
    // Narrower than what the person signed is still what they signed for.
    const evidence = await verifyGrantEvidence(w.t.owner, w.acme.tenantId, grantId);
    expect(evidence).toMatchObject({ ok: true, problems: [] });
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('a scope gone from the catalogue since the request counts as admin', async () => {
    await w.t.owner.delete(apiScopes).where(eq(apiScopes.name, 'mail:send'));
    await approve(w, request.requestId);
    const [entry] = await entries('grant.approved');
    expect(entry).toMatchObject({
      decision: 'ALLOW',
      inputs: {
        decision_request: {
          targets: [
            asked.targets[0],
            { audience: MAIL, scopes: [{ name: 'mail:send', sensitivity: 'admin' }] },
          ],
        },
      },
    });
    expect(await expectEveryDecisionReplays()).toBe(2);
  });
});

describe('a fresh approval of one task (ESCALATE)', () => {
  it('is not put to the policy again: it is itself the answer to a decision', async () => {
    const tw: TaskWorld = await createTaskWorld();
    w = tw;
    const person = await registeredPerson(w.t, 'ada@example.com', 'acme');
    await push(
      `${PERMIT_ALL}@id("writes-need-the-person")\n@outcome("escalate")\npermit (principal, action == Mandate::Action::"MintTaskToken", resource is Mandate::Scope)\nwhen { resource.name == "repo:write" && !context.fresh_approval };\n` +
        `@id("no-approvals")\nforbid (principal, ${APPROVE}, resource);\n`,
    );
    const writeTask = () =>
      mint(tw, {
        resource: REPOS,
        scope: 'repo:write',
        authorization_details: JSON.stringify([
          { type: 'agent_task', identifier: 'deploy', purpose: 'deploy' },
        ]),
      });
    await expectOAuthError(await writeTask(), 'authorization_pending');
    const [escalation] = await w.t.owner
      .select()
      .from(cibaRequests)
      .where(eq(cibaRequests.escalatesGrantId, tw.grantId));
    const id = escalation?.id ?? '';
    const headers = {
      cookie: person.cookie,
      'x-csrf-token': await csrfOf(w.t, person.userId),
      origin: new URL(w.t.deps.config.publicUrl).origin,
    };
    const options = await postJson(
      w.t,
      `/requests/${id}/approval/options`,
      { resources: [{ resource: REPOS, scopes: ['repo:write'] }], duration: 3600 },
      headers,
    );
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    const response = await person.auth.assert(
      options.body as unknown as { challenge: string; rpId?: string },
    );
    const approved = await postJson(w.t, `/requests/${id}/approval/verify`, { response }, headers);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toEqual({
      status: 'approved',
      grant_id: tw.grantId,
      redirect: `/requests/${id}`,
    });
    const [taskApproved] = await entries('task.approved');
    expect(taskApproved?.decision).toBeNull();
    expect(await entries('grant.denied')).toEqual([]);
    expect((await writeTask()).status).toBe(200);
  });
});
