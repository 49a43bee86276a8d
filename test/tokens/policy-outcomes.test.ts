/**
 * The policy's five outcomes at the per-task mint, through the real token endpoint:
 * each is seen by the agent as DESIGN.md says, recorded in the ledger with the
 * bundle, risk score and inputs that decided it, and replays to the same outcome.
 */
import { and, asc, eq, isNotNull } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditEntries, cibaRequests, issuedTokens } from '../../src/db/schema.ts';
import { defaultBundleRef } from '../../src/policy/bundles.ts';
import { REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  expectOAuthError,
  mint,
  mintOk,
  revoke,
  snapshot,
  type TaskWorld,
} from '../oauth/task-world.ts';
import { csrfOf, postJson, registeredPerson, type Registered } from '../passkeys/ceremonies.ts';
import { isRevokedInDb, report } from '../revocation/revocation-world.ts';
import { exchange } from './exchange-world.ts';
import { expectEveryDecisionReplays as replayAll } from '../helpers/policy.ts';

let w: TaskWorld;
/** Decisions recorded while the world was set up (the CIBA request and its approval). */
let decidedBefore: number;
beforeEach(async () => {
  w = await createTaskWorld();
  decidedBefore = (await decided()).length;
});

const decided = () =>
  w.t.owner
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.tenantId, w.acme.tenantId), isNotNull(auditEntries.decision)));
afterEach(async () => w.t.close());

const engine = () => {
  if (!w.t.policy) throw new Error('no policy engine');
  return w.t.policy;
};
const push = (policies: string) => engine().push(w.acme.tenantId, policies, 'test');

const PERMIT = '@id("permit-all")\npermit (principal, action, resource);\n';
const MINT = 'action == Mandate::Action::"MintTaskToken"';

const task = (identifier: string, purpose = 'tidy the repository') =>
  JSON.stringify([{ type: 'agent_task', identifier, purpose }]);

/** The tenant's ledger entries of one action, oldest first; the CIBA redemption's first token is entry 1 of token.minted. */
async function entries(action: string) {
  return w.t.owner
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.tenantId, w.acme.tenantId), eq(auditEntries.action, action)))
    .orderBy(asc(auditEntries.id));
}

/** Every recorded decision of the tenant replays to its recorded outcome; returns how many the test made. */
const expectEveryDecisionReplays = async () =>
  (await replayAll(w.t, w.acme.tenantId)) - decidedBefore;

describe('the policy at the per-task mint', () => {
  it('ALLOW: the shipped default mints as asked and records version 0, its digest and the risk', async () => {
    const body = await mintOk(w, { resource: REPOS, scope: 'repo:read' });
    expect(body.scope).toBe('repo:read');
    expect(body).not.toHaveProperty('policy');
    const [, entry] = await entries('token.minted');
    const shipped = await defaultBundleRef();
    expect(entry).toMatchObject({
      decision: 'ALLOW',
      policyId: shipped.id,
      policyVersion: 0,
      policyDigest: shipped.digest,
      subject: `token:${String(decodeJwt(body.access_token).jti)}`,
    });
    expect(entry?.riskScore).toBeTypeOf('number');
    expect(entry?.inputs).toMatchObject({
      v: 1,
      scope: 'repo:read',
      decision_request: {
        action: 'MintTaskToken',
        agent: w.acme.agent.clientId,
        person: w.acme.userId,
        targets: [{ audience: REPOS, scopes: [{ name: 'repo:read', sensitivity: 'read' }] }],
      },
    });
    expect(await expectEveryDecisionReplays()).toBe(1);
  });

  it('DENY: refuses with access_denied naming the policy, records the refusal, mints nothing', async () => {
    const pushed = await push(
      `${PERMIT}@id("no-writes")\nforbid (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:write" };\n`,
    );
    const before = await snapshot(w);
    const res = await mint(w, { resource: REPOS, scope: 'repo:read repo:write' });
    const error = await expectOAuthError(res, 'access_denied');
    expect(error.error_description).toContain('no-writes');
    expect(await snapshot(w)).toEqual(before);
    const [denied] = await entries('token.denied');
    expect(denied).toMatchObject({
      decision: 'DENY',
      policyVersion: pushed.version,
      policyDigest: pushed.digest,
      subject: `grant:${w.grantId}`,
    });
    // What the policy does not forbid still goes through.
    expect((await mintOk(w, { resource: REPOS, scope: 'repo:read' })).scope).toBe('repo:read');
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('ADAPT: mints a narrowed token and says what it narrowed', async () => {
    await push(
      `${PERMIT}@id("short-writes")\n@outcome("adapt")\n@max_ttl("30")\npermit (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:write" };\n` +
        `@id("no-reading-here")\n@outcome("adapt")\n@drop_scope\npermit (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:read" };\n`,
    );
    const res = await mint(w, { resource: REPOS, scope: 'repo:read repo:write' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { access_token: string };
    expect(body).toMatchObject({
      scope: 'repo:write',
      expires_in: 30,
      policy: {
        outcome: 'ADAPT',
        policies: ['short-writes', 'no-reading-here'],
        narrowed: {
          scope: { requested: 'repo:read repo:write', granted: 'repo:write', dropped: 'repo:read' },
          expires_in: { requested: 120, granted: 30 },
        },
      },
    });
    const claims = decodeJwt(body.access_token);
    expect(claims.scope).toBe('repo:write');
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(30);
    const [, entry] = await entries('token.minted');
    expect(entry).toMatchObject({ decision: 'ADAPT', inputs: { scope: 'repo:write' } });
    expect(await expectEveryDecisionReplays()).toBe(1);
  });

  it('REUSE: the same task gets its identical live token back; another task, or a revoked one, a new token', async () => {
    const first = await mintOk(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task('t-1'),
    });
    w.t.clock.advance(10);
    const again = await mint(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task('t-1'),
    });
    expect(again.status).toBe(200);
    const second = (await again.json()) as typeof first & { policy?: { outcome: string } };
    // EdDSA signatures are deterministic: the same claims under the same key, the same token.
    expect(second.access_token).toBe(first.access_token);
    expect(second.expires_in).toBe(first.expires_in - 10);
    expect(second.policy?.outcome).toBe('REUSE');
    // The task is named by its id: other words for it still get the recorded token.
    const reworded = await mintOk(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task('t-1', 'tidy up the repository, please'),
    });
    expect(reworded.access_token).toBe(first.access_token);
    const rows = () => w.t.owner.select().from(issuedTokens);
    const recorded = (await rows()).length;
    const [reused] = await entries('token.reused');
    expect(reused).toMatchObject({
      decision: 'REUSE',
      subject: `token:${String(decodeJwt(first.access_token).jti)}`,
    });

    const other = await mintOk(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task('t-2'),
    });
    expect(other.access_token).not.toBe(first.access_token);
    expect((await rows()).length).toBe(recorded + 1);

    expect((await revoke(w, w.acme.agent, first.access_token)).status).toBe(200);
    const afterRevocation = await mintOk(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task('t-1'),
    });
    expect(afterRevocation.access_token).not.toBe(first.access_token);
    expect(await expectEveryDecisionReplays()).toBe(5);
  });

  describe('ESCALATE', () => {
    let person: Registered;
    beforeEach(async () => {
      person = await registeredPerson(w.t, 'ada@example.com', 'acme');
      expect(person.userId).toBe(w.acme.userId);
      await push(
        `${PERMIT}@id("writes-need-the-person")\n@outcome("escalate")\npermit (principal, ${MINT}, resource is Mandate::Scope)\nwhen { resource.name == "repo:write" && !context.fresh_approval };\n`,
      );
    });

    const headers = async () => ({
      cookie: person.cookie,
      'x-csrf-token': await csrfOf(w.t, person.userId),
      origin: new URL(w.t.deps.config.publicUrl).origin,
    });
    const writeTask = () =>
      mint(w, { resource: REPOS, scope: 'repo:write', authorization_details: task('deploy') });
    const escalations = () =>
      w.t.owner
        .select()
        .from(cibaRequests)
        .where(eq(cibaRequests.escalatesGrantId, w.grantId))
        .orderBy(asc(cibaRequests.createdAt));

    it('answers authorization_pending until the person approves with a passkey, then mints once', async () => {
      const before = await snapshot(w);
      await expectOAuthError(await writeTask(), 'authorization_pending');
      await expectOAuthError(await writeTask(), 'authorization_pending');
      expect(await snapshot(w)).toEqual(before);
      const [pending, ...more] = await escalations();
      expect(more).toEqual([]);
      expect(pending).toMatchObject({
        status: 'pending',
        clientId: w.acme.agent.clientId,
        userId: w.acme.userId,
        escalation: {
          action: 'MintTaskToken',
          resource: REPOS,
          scopes: ['repo:write'],
          task_id: 'deploy',
        },
      });
      const id = pending?.id ?? '';

      // The same approval page, a fresh passkey assertion.
      const page = await w.t.request(`/requests/${id}`, { headers: { cookie: person.cookie } });
      expect(await page.text()).toContain('approve this one task');
      const options = await postJson(
        w.t,
        `/requests/${id}/approval/options`,
        { resources: [{ resource: REPOS, scopes: ['repo:write'] }], duration: 3600 },
        await headers(),
      );
      expect(options.status, JSON.stringify(options.body)).toBe(200);
      const assertion = await person.auth.assert(
        options.body as unknown as { challenge: string; rpId?: string },
      );
      const approved = await postJson(
        w.t,
        `/requests/${id}/approval/verify`,
        { response: assertion },
        await headers(),
      );
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(approved.body.grant_id).toBe(w.grantId);

      const res = await writeTask();
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; scope: string };
      expect(body.scope).toBe('repo:write');
      const [, minted] = await entries('token.minted');
      expect(minted).toMatchObject({
        decision: 'ALLOW',
        inputs: { decision_request: { freshApproval: true } },
      });
      expect(await entries('token.escalated')).toHaveLength(2);
      expect(await entries('task.approved')).toHaveLength(1);

      // One token per fresh approval: the next write asks the person again.
      await expectOAuthError(await writeTask(), 'authorization_pending');
      expect(await escalations()).toHaveLength(2);
      // Reading needs nobody.
      expect((await mintOk(w, { resource: REPOS, scope: 'repo:read' })).scope).toBe('repo:read');
      // Escalated twice, minted, escalated again, read: five decisions.
      expect(await expectEveryDecisionReplays()).toBe(5);
    });

    it('answers access_denied once the person refused the task', async () => {
      await expectOAuthError(await writeTask(), 'authorization_pending');
      const [pending] = await escalations();
      const res = await w.t.request(`/requests/${pending?.id ?? ''}/deny`, {
        method: 'POST',
        headers: await headers(),
      });
      expect(res.status).toBe(303);
      const error = await expectOAuthError(await writeTask(), 'access_denied');
      expect(error.error_description).toContain('refused');
      expect(await entries('task.denied')).toHaveLength(1);
      expect(
        await w.t.owner.select().from(issuedTokens).where(eq(issuedTokens.scope, 'repo:write')),
      ).toEqual([]);
    });
  });
});

describe('the policy at a token exchange', () => {
  const EXCHANGE = 'action == Mandate::Action::"ExchangeToken"';

  it("narrows a sub-agent's token (ADAPT) and refuses what a forbid names (DENY)", async () => {
    await push(
      `${PERMIT}@id("sub-agents-read-briefly")\n@outcome("adapt")\n@max_ttl("20")\n@drop_scopes("repo:write")\npermit (principal, ${EXCHANGE}, resource);\n` +
        `@id("no-grandchildren")\nforbid (principal, ${EXCHANGE}, resource)\nwhen { context.depth > 1 };\n`,
    );
    const parent = await mintOk(w, { resource: REPOS, scope: 'repo:read repo:write' });
    const res = await exchange(w, w.acme.otherAgent, parent.access_token);
    expect(res.status).toBe(200);
    const child = (await res.json()) as Record<string, unknown> & { access_token: string };
    expect(child).toMatchObject({
      scope: 'repo:read',
      expires_in: 20,
      policy: {
        outcome: 'ADAPT',
        policies: ['sub-agents-read-briefly'],
        narrowed: { scope: { dropped: 'repo:write' } },
      },
    });
    const [exchanged] = await entries('token.exchanged');
    expect(exchanged).toMatchObject({
      decision: 'ADAPT',
      actor: `agent:${w.acme.otherAgent.clientId}`,
      inputs: { decision_request: { action: 'ExchangeToken', depth: 1 } },
    });

    const before = await snapshot(w);
    const deeper = await exchange(w, w.acme.otherAgent, child.access_token);
    const error = await expectOAuthError(deeper, 'access_denied');
    expect(error.error_description).toContain('no-grandchildren');
    expect(await snapshot(w)).toEqual(before);
    expect(await entries('token.denied')).toHaveLength(1);
    expect(await expectEveryDecisionReplays()).toBe(3);
  });
});

describe('the policy at overrun handling', () => {
  const OVERRUN = 'action == Mandate::Action::"HandleOverrun"';

  it('keeps the grant under the shipped default below the threshold, and records why', async () => {
    const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    const res = await report(w, w.acme.api, { token, attempted_scope: 'repo:write' });
    expect(await res.json()).toMatchObject({ revoked: ['token'], overruns: 1, threshold: 2 });
    const [reported] = await entries('overrun.reported');
    expect(reported).toMatchObject({
      decision: 'ALLOW',
      policyVersion: 0,
      inputs: {
        grant_revoked: false,
        decision_request: {
          action: 'HandleOverrun',
          overrun: { grantOverruns: 1, threshold: 2, outsideGrant: false },
        },
      },
    });
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it("revokes the grant when the tenant's bundle says so, even on a first overrun inside it", async () => {
    await push(`${PERMIT}@id("zero-tolerance")\nforbid (principal, ${OVERRUN}, resource);\n`);
    const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    const res = await report(w, w.acme.api, { token, attempted_scope: 'repo:write' });
    expect(await res.json()).toMatchObject({ revoked: ['token', 'grant'], overruns: 1 });
    expect(await isRevokedInDb(w.t, String(decodeJwt(token).jti))).toBe(true);
    await expectOAuthError(await mint(w, { resource: REPOS }), 'invalid_grant');
    const [reported] = await entries('overrun.reported');
    expect(reported).toMatchObject({ decision: 'DENY', policyId: expect.any(String) as string });
    expect(reported?.inputs).toMatchObject({ grant_revoked: true });
    expect(await expectEveryDecisionReplays()).toBe(2);
  });

  it('judges an overrun refused at the token endpoint the same way', async () => {
    await push(`${PERMIT}@id("zero-tolerance")\nforbid (principal, ${OVERRUN}, resource);\n`);
    const res = await mint(w, { resource: REPOS, scope: 'repo:admin' });
    const error = await expectOAuthError(res, 'invalid_scope');
    expect(error.error_description).toContain('the grant is now revoked');
    const [judged] = await entries('overrun.judged');
    expect(judged).toMatchObject({
      decision: 'DENY',
      subject: `grant:${w.grantId}`,
      inputs: { grant_revoked: true },
    });
    expect(await expectEveryDecisionReplays()).toBe(1);
  });
});
