/**
 * The per-task mint (DESIGN.md, token endpoint, `refresh_token`): the agent
 * presents its grant handle and gets one short-lived access token for one API,
 * with at most the scopes the person granted for it.
 *
 * Everything happens in one transaction: the grant is read under a share lock (so
 * a concurrent revocation waits for us and then revokes this token too), the token
 * is signed and recorded before the transaction commits. Asking beyond the grant is
 * recorded as an overrun attempt and that record commits even though the request
 * fails: the transaction returns the error and it is thrown after the commit.
 */
import { and, eq, getTableColumns, sql } from 'drizzle-orm';
import { columnsDecoder, CompiledStatement } from '../db/compiled.ts';
import type { Database, Tx } from '../db/database.ts';
import { grants, overrunAttempts } from '../db/schema.ts';
import type { SigningKey } from '../keys/key-store.ts';
import { OAuthError } from '../oauth/errors.ts';
import { sha256base64url } from '../random.ts';
import { ACCESS_TOKEN_TYPE, mintAccessToken, type TaskClaim } from './access-token.ts';
import { AlgebraError, boundedLifetime, chooseResource, narrowScopes } from './algebra.ts';
import { tokenLifetime, TokenLifetimeError } from './lifetime.ts';
import { recordIssuedToken } from './record.ts';
import { appendAudit } from '../audit/append.ts';
import { judgeGrant, lockGrant, overrunThreshold } from '../revocation/overrun-policy.ts';
import type { StatusEntry } from '../revocation/status-claim.ts';
import { mintVcToken, VC_TOKEN_TYPE } from './vc.ts';
import { decideMint, mintFacts, recordRefusal, type PolicyNote } from './mint-decision.ts';
import { factsFromArray, readFacts } from '../policy/signals.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { auditFields } from '../policy/replay.ts';
import { statusEntry } from '../revocation/status-claim.ts';

export { ACCESS_TOKEN_TYPE };

/** Handles are 32 random bytes in base64url (43 characters); anything far longer is not one. */
const HANDLE_MAX = 128;

export interface TaskMintInput {
  /** The authenticated agent and its tenant. */
  clientId: string;
  tenantId: string;
  /** The grant handle, as the agent sent it in `refresh_token`. */
  handle: string;
  /** RFC 8707 `resource` values as sent (none, one, or — refused — several). */
  resources: string[];
  /** Requested scopes, syntax already checked; undefined means all the grant holds for the resource. */
  scopes: string[] | undefined;
  /** What the task is (from its `agent_task` authorization details). */
  task?: TaskClaim | undefined;
  /** A shorter lifetime the task asked for (`max_token_ttl`), seconds. */
  requestedTtl?: number | undefined;
  /** The details as sent, echoed in the response (RFC 9396 §7). */
  authorizationDetails?: Record<string, unknown>[] | undefined;
  /**
   * RFC 7638 thumbprint of the key of a DPoP proof the token endpoint verified
   * (RFC 9449). When given, the token is bound to it; when the grant is bound, it
   * must be the grant's key.
   */
  dpopJkt?: string | undefined;
  /** `vc`: the same facts as a VCDM 2.0 credential (`vc+jwt`) instead of an RFC 9068 token. */
  form?: 'access' | 'vc';
  now: Date;
  issuer: string;
  /** The broker's default access-token lifetime, seconds. */
  accessTokenTtl: number;
  /** Fetched before the transaction: on PGlite a query outside it would wait for it to end. */
  signer: SigningKey;
  /** The token's status-list entry, allocated before the transaction like the signer. */
  status: StatusEntry;
  /** MANDATE_OVERRUN_THRESHOLD, for grants whose tenant sets none. */
  overrunThreshold: number;
  /** The app's policy engine (undefined only in benchmarks that measure without it). */
  policy: PolicyEngine | undefined;
  /** An escalated task waits this long for the person (seconds), polled at this interval. */
  escalation: { expiresIn: number; interval: number };
}

export interface TaskTokenResponse {
  access_token: string;
  /** RFC 8693 §2.2.1: N_A when the issued token is not an access token (the VC form). */
  token_type: 'Bearer' | 'DPoP' | 'N_A';
  expires_in: number;
  scope: string;
  issued_token_type: typeof ACCESS_TOKEN_TYPE | typeof VC_TOKEN_TYPE;
  authorization_details?: Record<string, unknown>[];
  /** What the policy changed (ADAPT) or that it handed back a live token (REUSE). */
  policy?: PolicyNote;
}

const GRANT_COLUMNS = getTableColumns(grants);
const GRANT_WIDTH = Object.keys(GRANT_COLUMNS).length;
const grantFromArray = columnsDecoder<typeof grants.$inferSelect>(GRANT_COLUMNS);

/**
 * The grant, share-locked, and (with the policy on) the facts of its decision as
 * further columns: one round trip, its text built once per shape.
 */
const readGrant = new CompiledStatement('mint_grant', (raw) => ({
  grant: grantFromArray(raw, 0),
  facts: raw.length > GRANT_WIDTH ? factsFromArray(raw, GRANT_WIDTH) : undefined,
}));

/** One answer for unknown, someone else's, revoked and ended grants: nothing to learn. */
const invalidGrant = () =>
  new OAuthError(
    'invalid_grant',
    'the grant handle is invalid, expired, revoked or was issued to another client',
  );

export async function mintTaskToken(db: Database, p: TaskMintInput): Promise<TaskTokenResponse> {
  if (p.handle.length > HANDLE_MAX) throw invalidGrant();
  const handleHash = await sha256base64url(p.handle);
  const outcome = await db.transaction(async (tx) => {
    const facts = mintFacts(p.policy, {
      tenantId: p.tenantId,
      clientId: p.clientId,
      resources: p.resources,
      taskId: p.task?.id,
      kind: p.form === 'vc' ? 'vc' : 'access',
      dpopJkt: p.dpopJkt ?? null,
      now: p.now,
      grantId: grants.id,
    });
    const [row] = await readGrant.run(
      tx,
      facts?.statement.shape ?? 'no facts',
      () =>
        tx
          .select({ grant: GRANT_COLUMNS, ...facts?.statement.fields(tx) })
          .from(grants)
          .where(
            and(
              eq(grants.handleHash, sql.placeholder('handle')),
              eq(grants.clientId, sql.placeholder('client')),
            ),
          )
          .for('share'),
      { handle: handleHash, client: p.clientId, ...facts?.statement.values },
    );
    const grant = row?.grant;
    if (!grant || grant.tenantId !== p.tenantId || grant.status !== 'active') throw invalidGrant();
    // Under a second left cannot carry a token whose lifetime is counted in whole seconds.
    if (grant.expiresAt.getTime() - p.now.getTime() < 1000) throw invalidGrant();
    // RFC 9449 §5: a handle bound to a DPoP key is usable only with a proof by that key.
    if (grant.dpopJkt !== null && grant.dpopJkt !== p.dpopJkt) {
      throw new OAuthError('invalid_grant', 'the grant is bound to another DPoP key');
    }

    let resource: string;
    let scopes: string[];
    try {
      const granted = chooseResource(grant.resources, p.resources);
      resource = granted.resource;
      scopes = narrowScopes(granted.scopes, p.scopes);
    } catch (err) {
      if (!(err instanceof AlgebraError)) throw err;
      const overrun = err.code === 'ERR_RESOURCE_BEYOND' || err.code === 'ERR_SCOPE_BEYOND';
      if (overrun) await recordOverrun(tx, grant, p);
      // Where it reached: the one resource named (else the grant's first) and the scopes named.
      // (The policy's request holds at most 2048 characters of audience and 200 scopes.)
      const named = p.resources[0];
      const resource =
        named !== undefined && named.length <= 2048 ? named : (grant.resources[0]?.resource ?? '');
      const overrunOf: OverrunOf | undefined = overrun
        ? {
            id: grant.id,
            tenantId: grant.tenantId,
            target: {
              resource,
              apiClientId: grant.resources.find((r) => r.resource === resource)?.api_client_id,
              scopes: (p.scopes ?? []).slice(0, 200),
            },
          }
        : undefined;
      return { refusal: err, overrunOf };
    }

    const target = grant.resources.find((r) => r.resource === resource);
    if (!target) throw invalidGrant();
    const vc = p.form === 'vc';
    const { lifetime, ceiling } = lifetimeFor(grant, p);
    const read = row?.facts;
    const prefetched =
      read && facts
        ? (tokenScopes: string[]) => readFacts(read, facts.query, facts.statement, tokenScopes)
        : undefined;
    const verdict = await decideMint(
      tx,
      p.policy,
      {
        action: 'MintTaskToken',
        tenantId: grant.tenantId,
        grant,
        agent: grant.clientId,
        target,
        scopes,
        task: p.task,
        authorizationDetails: p.authorizationDetails,
        lifetime,
        ttlCeiling: ceiling,
        depth: 0,
        reuse: { kind: vc ? 'vc' : 'access', dpopJkt: p.dpopJkt ?? null },
        now: p.now,
        escalation: p.escalation,
      },
      prefetched,
    );
    if (verdict.kind === 'refuse') {
      await recordRefusal(tx, grant, grant.clientId, verdict, p.now);
      return { policyRefusal: verdict.error };
    }

    const mint = vc ? mintVcToken : mintAccessToken;
    const common = {
      issuer: p.issuer,
      subject: grant.userId,
      audience: resource,
      clientId: grant.clientId,
      actor: { sub: grant.clientId },
      tenantId: grant.tenantId,
      grantId: grant.id,
      task: p.task,
      dpopJkt: p.dpopJkt,
    };
    let minted: Awaited<ReturnType<typeof mint>>;
    if (verdict.kind === 'reuse') {
      // The recorded token's own claims, signed again: with EdDSA and an unrotated key,
      // the very same bytes; its jti, lifetime and status entry are the original's.
      const t = verdict.token;
      if (t.statusListId === null || t.statusIdx === null) {
        throw new Error('a reusable token has no status entry');
      }
      const iat = Math.floor(t.issuedAt.getTime() / 1000);
      minted = await mint(p.signer, {
        ...common,
        scopes: t.scope.split(' '),
        issuedAt: new Date(iat * 1000),
        lifetime: Math.floor(t.expiresAt.getTime() / 1000) - iat,
        status: statusEntry(p.issuer, { listId: t.statusListId, idx: t.statusIdx }),
        jti: t.jti,
        task: taskClaim(t.task),
      });
      await appendAudit(tx, {
        tenantId: grant.tenantId,
        at: p.now,
        action: 'token.reused',
        actor: `agent:${grant.clientId}`,
        subject: `token:${t.jti}`,
        ...auditFields(verdict.decision),
      });
    } else {
      minted = await mint(p.signer, {
        ...common,
        scopes: verdict.scopes,
        issuedAt: p.now,
        lifetime: verdict.lifetime,
        status: p.status,
      });
      await recordIssuedToken(
        tx,
        minted,
        { kind: vc ? 'vc' : 'access', parentJti: null, ancestors: [], depth: 0 },
        verdict.decision,
      );
    }
    const expiresIn =
      verdict.kind === 'reuse'
        ? minted.claims.exp - Math.floor(p.now.getTime() / 1000)
        : minted.expiresIn;
    const response: TaskTokenResponse = {
      access_token: minted.token,
      // RFC 9449 §5: a DPoP-bound token is announced as such.
      token_type: vc ? 'N_A' : p.dpopJkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: expiresIn,
      scope: minted.claims.scope,
      issued_token_type: vc ? VC_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
      ...(p.authorizationDetails ? { authorization_details: p.authorizationDetails } : {}),
      ...(verdict.note ? { policy: verdict.note } : {}),
    };
    return response;
  });
  if ('policyRefusal' in outcome && outcome.policyRefusal) throw outcome.policyRefusal;
  if ('refusal' in outcome) throw await refusal(db, outcome, p);
  return outcome;
}

/**
 * The refusal's OAuth error. An overrun was committed with the refusal; then, in a
 * transaction of its own (upgrading the share lock above could deadlock two
 * concurrent overruns), the grant is judged: asking beyond it counts toward the
 * threshold like an overrun an API reports.
 */
async function refusal(
  db: Database,
  outcome: { refusal: AlgebraError; overrunOf: OverrunOf | undefined },
  p: Pick<TaskMintInput, 'now' | 'overrunThreshold' | 'policy'>,
): Promise<OAuthError> {
  const err = outcome.refusal;
  const code =
    err.code === 'ERR_SCOPE_BEYOND' || err.code === 'ERR_SCOPE_EMPTY'
      ? 'invalid_scope'
      : 'invalid_target';
  const over = outcome.overrunOf;
  if (!over) return new OAuthError(code, err.message, 400, { cause: err });
  const verdict = await db.transaction(async (tx) => {
    const grant = await lockGrant(tx, over.id, over.tenantId);
    if (!grant) return undefined;
    const threshold = await overrunThreshold(tx, { tenantId: grant.tenantId }, p.overrunThreshold);
    const judged = await judgeGrant(tx, grant, {
      outsideGrant: false,
      threshold,
      now: p.now,
      actor: 'broker',
      policy: p.policy,
      target: over.target,
    });
    if (judged.decision) {
      await appendAudit(tx, {
        tenantId: grant.tenantId,
        at: p.now,
        action: 'overrun.judged',
        actor: 'broker',
        subject: `grant:${grant.id}`,
        ...auditFields(judged.decision),
        inputs: {
          ...auditFields(judged.decision).inputs,
          overruns: judged.overruns,
          threshold: judged.threshold,
          grant_revoked: judged.grantRevoked,
        },
      });
    }
    return judged;
  });
  const note = verdict?.grantRevoked
    ? `; this was overrun ${verdict.overruns} of ${verdict.threshold}, and the grant is now revoked`
    : '';
  return new OAuthError(code, `${err.message}${note}`, 400, { cause: err });
}

/** The grant an overrun at the token endpoint was against, and where it reached. */
interface OverrunOf {
  id: string;
  tenantId: string;
  target: { resource: string; apiClientId: string | undefined; scopes: string[] };
}

/**
 * The grant's bounds (tokenLifetime) as the ceiling, and the lifetime to give: the
 * ceiling narrowed further by what the task asked for.
 */
function lifetimeFor(
  grant: { maxTokenTtl: number; expiresAt: Date },
  p: Pick<TaskMintInput, 'accessTokenTtl' | 'now' | 'requestedTtl'>,
): { lifetime: number; ceiling: number } {
  try {
    const ceiling = tokenLifetime({
      defaultTtl: p.accessTokenTtl,
      grantMaxTokenTtl: grant.maxTokenTtl,
      grantExpiresAt: grant.expiresAt,
      now: p.now,
    });
    const lifetime = boundedLifetime({
      now: p.now,
      ceilings: p.requestedTtl === undefined ? [ceiling] : [ceiling, p.requestedTtl],
      notAfter: [grant.expiresAt],
    });
    return { lifetime, ceiling };
  } catch (err) {
    if (err instanceof TokenLifetimeError || err instanceof AlgebraError) throw invalidGrant();
    throw err;
  }
}

/** What the agent tried, for the revocation capability to act on (source token_endpoint). */
async function recordOverrun(
  tx: Tx,
  grant: { id: string; tenantId: string; clientId: string; userId: string },
  p: Pick<TaskMintInput, 'scopes' | 'resources' | 'now'>,
): Promise<void> {
  const attempted = {
    // null: not named, so the grant's defaults applied.
    scope: p.scopes === undefined ? null : p.scopes.join(' '),
    resource:
      p.resources.length === 0 ? null : p.resources.length === 1 ? p.resources[0] : p.resources,
  };
  await tx.insert(overrunAttempts).values({
    tenantId: grant.tenantId,
    grantId: grant.id,
    clientId: grant.clientId,
    source: 'token_endpoint',
    attempted,
  });
  await appendAudit(tx, {
    tenantId: grant.tenantId,
    at: p.now,
    action: 'overrun.refused',
    actor: `agent:${grant.clientId}`,
    subject: `grant:${grant.id}`,
    inputs: { agent: grant.clientId, person: grant.userId, grant: grant.id, ...attempted },
  });
}

/** A recorded `task` (jsonb) as the claim it was minted with. */
function taskClaim(task: Record<string, unknown> | null): TaskClaim | undefined {
  if (!task) return undefined;
  const { id, purpose } = task;
  return {
    ...(typeof id === 'string' ? { id } : {}),
    ...(typeof purpose === 'string' ? { purpose } : {}),
  };
}
