/**
 * An API reports that a token was used beyond its scope (DESIGN.md,
 * mandate_overrun_endpoint). The token must have been issued for the reporting API:
 * its audience, its tenant. Then, in one transaction with the grant locked, the
 * overrun is recorded, the token and every token exchanged from it are revoked, and
 * the grant is judged (overrun-policy.ts). A report about any other token changes
 * nothing and says so.
 */
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { apis, issuedTokens, overrunAttempts } from '../db/schema.ts';
import type { KeyStore } from '../keys/key-store.ts';
import type { AuthenticatedClient } from '../oauth/client-auth.ts';
import { OAuthError } from '../oauth/errors.ts';
import { verifyOwnAccessToken } from '../tokens/own-token.ts';
import { judgeGrant, lockGrant, overrunThreshold } from './overrun-policy.ts';
import { revokeTokenTree } from './revoke.ts';
import { appendAudit } from '../audit/append.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { auditFields } from '../policy/replay.ts';

export interface OverrunReport {
  caller: AuthenticatedClient;
  /** The access token as the API received it, or only its jti. */
  token?: string | undefined;
  jti?: string | undefined;
  attemptedScopes: string[];
  attemptedAction?: string | undefined;
  method?: string | undefined;
  path?: string | undefined;
  now: Date;
  issuer: string;
  /** A report may arrive just after the token expired; tokens live at most this long. */
  maxTokenTtl: number;
  defaultThreshold: number;
  /** Decides whether the overrun costs the grant (undefined: the fixed rule, benchmarks only). */
  policy: PolicyEngine | undefined;
}

export interface OverrunOutcome {
  revoked: ('token' | 'grant')[];
  jti: string;
  grant_id: string;
  overruns: number;
  threshold: number;
}

const notForThisApi = () =>
  new OAuthError(
    'access_denied',
    'the token was not issued for this API (unknown, another API, another tenant); nothing was revoked',
    403,
  );

export async function reportOverrun(
  db: Database,
  keys: Pick<KeyStore, 'jwks'>,
  p: OverrunReport,
): Promise<OverrunOutcome> {
  if (p.caller.kind !== 'api') {
    throw new OAuthError('unauthorized_client', 'only APIs may report overruns', 403);
  }
  const jti = p.token === undefined ? p.jti : await jtiOf(keys, p.token, p);
  if (jti === undefined) throw new OAuthError('invalid_request', 'token or jti is required');

  const [api] = await db
    .select({ audience: apis.audience })
    .from(apis)
    .where(and(eq(apis.clientId, p.caller.clientId), eq(apis.tenantId, p.caller.tenantId)));
  const [token] = await db
    .select({
      jti: issuedTokens.jti,
      grantId: issuedTokens.grantId,
      tenantId: issuedTokens.tenantId,
      audience: issuedTokens.audience,
      scope: issuedTokens.scope,
    })
    .from(issuedTokens)
    .where(and(eq(issuedTokens.jti, jti), eq(issuedTokens.tenantId, p.caller.tenantId)));
  if (!api || !token || token.audience !== api.audience) throw notForThisApi();

  return db.transaction(async (tx) => {
    const grant = await lockGrant(tx, token.grantId, token.tenantId);
    if (!grant) throw notForThisApi();
    await tx.insert(overrunAttempts).values({
      tenantId: token.tenantId,
      grantId: grant.id,
      clientId: grant.clientId,
      jti: token.jti,
      source: 'api_report',
      attempted: {
        scope: p.attemptedScopes.length > 0 ? p.attemptedScopes.join(' ') : null,
        action: p.attemptedAction ?? null,
        method: p.method ?? null,
        path: p.path ?? null,
        reported_by: p.caller.clientId,
      },
    });
    const by = `api:${p.caller.clientId}`;
    await revokeTokenTree(tx, token, p.now, by);
    const granted = grant.resources.find((r) => r.resource === api.audience)?.scopes ?? [];
    const outsideGrant = p.attemptedScopes.some((s) => !granted.includes(s));
    const threshold = await overrunThreshold(
      tx,
      { tenantId: token.tenantId, apiClientId: p.caller.clientId },
      p.defaultThreshold,
    );
    const verdict = await judgeGrant(tx, grant, {
      outsideGrant,
      threshold,
      now: p.now,
      actor: by,
      policy: p.policy,
      target: {
        resource: api.audience,
        apiClientId: p.caller.clientId,
        scopes: p.attemptedScopes,
      },
    });
    // The grant is dead either way when it was revoked before; say what the state is.
    const grantDead = verdict.grantRevoked || grant.status !== 'active';
    await appendAudit(tx, {
      tenantId: token.tenantId,
      at: p.now,
      action: 'overrun.reported',
      actor: by,
      subject: `token:${token.jti}`,
      ...(verdict.decision ? auditFields(verdict.decision) : {}),
      inputs: {
        ...(verdict.decision ? auditFields(verdict.decision).inputs : {}),
        agent: grant.clientId,
        person: grant.userId,
        grant: grant.id,
        audience: api.audience,
        token_scope: token.scope,
        attempted_scope: p.attemptedScopes.join(' ') || null,
        attempted_action: p.attemptedAction ?? null,
        method: p.method ?? null,
        path: p.path ?? null,
        outside_grant: outsideGrant,
        overruns: verdict.overruns,
        threshold: verdict.threshold,
        grant_revoked: verdict.grantRevoked,
      },
    });
    return {
      revoked: grantDead ? ['token', 'grant'] : ['token'],
      jti: token.jti,
      grant_id: grant.id,
      overruns: verdict.overruns,
      threshold: verdict.threshold,
    };
  });
}

/** The jti of one of our access tokens, signature checked; expired ones are still reportable. */
async function jtiOf(
  keys: Pick<KeyStore, 'jwks'>,
  token: string,
  p: Pick<OverrunReport, 'issuer' | 'now' | 'maxTokenTtl'>,
): Promise<string> {
  const verified = await verifyOwnAccessToken(keys, token, {
    issuer: p.issuer,
    now: p.now,
    acceptExpiredFor: p.maxTokenTtl,
  });
  if (!verified.ok) {
    throw new OAuthError(
      'invalid_request',
      `token is not an access token issued by this broker (${verified.code})`,
    );
  }
  return verified.claims.jti;
}
