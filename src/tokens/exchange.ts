/**
 * Sub-agent token exchange (RFC 8693): an agent of the same tenant trades a parent
 * access token (`subject_token`) and an assertion of its own (`actor_token`) for an
 * attenuated token: the same person, API, grant and task; scope ⊆ the parent's;
 * expiry ≤ the parent's; `act` nested with the sub-agent outermost (§4.1).
 *
 * Every refusal of a token is `invalid_request`, as RFC 8693 §2.2.2 requires ("if
 * either the subject_token or actor_token are invalid for any reason, or are
 * unacceptable based on policy"): that covers revoked, expired and foreign parents,
 * replayed actor tokens and the depth limit. Scope beyond the parent is RFC 6749's
 * `invalid_scope`; another audience is RFC 8693's `invalid_target`.
 *
 * The decision and the record happen in one transaction, with the parent token and
 * its grant locked against a concurrent revocation: the child is either recorded with
 * its lineage (parent_jti, ancestors, depth) before it is returned, or nothing is.
 */
import type { StatusEntry } from '../revocation/status-claim.ts';
import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import type { JSONWebKeySet } from 'jose';
import type { Database } from '../db/database.ts';
import { clientAssertionJtis, grants, issuedTokens } from '../db/schema.ts';
import type { SigningKey } from '../keys/key-store.ts';
import type { AuthenticatedClient } from '../oauth/client-auth.ts';
import { OAuthError } from '../oauth/errors.ts';
import { ACCESS_TOKEN_TYPE, mintAccessToken, type AccessTokenInput } from './access-token.ts';
import { refuse, verifyActorToken, verifySubjectToken } from './exchange-tokens.ts';
import { mintVcToken, VC_TOKEN_TYPE } from './vc.ts';
import { recordIssuedToken } from './record.ts';
import { decideMint, recordRefusal, type PolicyNote } from './mint-decision.ts';
import type { PolicyEngine } from '../policy/engine.ts';

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 §3 token type identifiers. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** What `requested_token_type` may ask for; the first is the default. */
export const EXCHANGE_TOKEN_TYPES = [ACCESS_TOKEN_TYPE, VC_TOKEN_TYPE] as const;
type IssuedTokenType = (typeof EXCHANGE_TOKEN_TYPES)[number];

export interface ExchangeRequest {
  subjectToken: string | undefined;
  subjectTokenType: string | undefined;
  actorToken: string | undefined;
  actorTokenType: string | undefined;
  requestedTokenType: string | undefined;
  /** Requested scopes; undefined keeps the parent's. */
  scopes: string[] | undefined;
  /** Every `resource` and `audience` value; each must name the parent's audience. */
  targets: string[];
  /**
   * RFC 7638 thumbprint of the request's verified DPoP proof, if any: the sub-agent's
   * own key, which the child is then bound to. A DPoP-bound parent requires one, so a
   * sender-constrained token can never be traded for a bearer token.
   */
  dpopJkt?: string | undefined;
}

export interface ExchangeContext {
  db: Database;
  /** The sub-agent, already authenticated with private_key_jwt at the token endpoint. */
  client: AuthenticatedClient;
  issuer: string;
  now: Date;
  /** Fetched before the transaction: on PGlite a query outside it would wait for it to end. */
  signer: SigningKey;
  /** The child token's status-list entry, allocated before the transaction like the signer. */
  status: StatusEntry;
  /** The broker's published keys: a subject token must verify against one of them. */
  jwks: JSONWebKeySet;
  accessTokenTtl: number;
  maxDepth: number;
  clockSkew: number;
  /** Longest `exp - now` accepted on an actor token, like a client assertion (RFC 7523 §3). */
  maxAssertionTtl: number;
  /** Fetch for a sub-agent registered with jwks_uri (tests inject one). */
  fetch?: typeof fetch;
  /** The app's policy engine (undefined only in benchmarks that measure without it). */
  policy: PolicyEngine | undefined;
  /** An escalated exchange waits this long for the person (seconds), polled at this interval. */
  escalation: { expiresIn: number; interval: number };
}

export interface ExchangeResponse {
  access_token: string;
  issued_token_type: IssuedTokenType;
  /** RFC 8693 §2.2.1: `N_A` when the issued token is not an access token (the VC form). */
  token_type: 'Bearer' | 'DPoP' | 'N_A';
  expires_in: number;
  scope: string;
  /** What the policy narrowed (ADAPT). */
  policy?: PolicyNote;
}

/** One answer for unknown, revoked, expired, foreign and revoked-grant parents: nothing to learn. */
const inactiveSubject = () => refuse('subject_token is not an active access token');

export async function exchangeToken(
  ctx: ExchangeContext,
  req: ExchangeRequest,
): Promise<ExchangeResponse> {
  if (ctx.client.kind !== 'agent') {
    throw new OAuthError('unauthorized_client', 'only agents may exchange tokens');
  }
  // MANDATE_TOKEN_EXCHANGE_MAX_DEPTH=0 turns the grant off; metadata then omits it too.
  if (ctx.maxDepth < 1) {
    throw new OAuthError('unsupported_grant_type', 'token exchange is disabled on this broker');
  }
  const issuedType = checkTypes(req);
  const subjectToken = req.subjectToken ?? '';
  const actorToken = req.actorToken ?? '';
  const parent = await verifySubjectToken(ctx, subjectToken);
  const actor = await verifyActorToken(ctx, actorToken);

  const outcome = await ctx.db.transaction(async (tx) => {
    // FOR SHARE: a revocation of this token or its grant waits for us, or we for it;
    // either way no child is recorded under a parent already revoked.
    const [row] = await tx
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, parent.jti))
      .for('share');
    if (
      !row ||
      row.kind !== 'access' ||
      row.tenantId !== ctx.client.tenantId ||
      row.revokedAt !== null ||
      row.expiresAt <= ctx.now
    ) {
      throw inactiveSubject();
    }
    const [grant] = await tx.select().from(grants).where(eq(grants.id, row.grantId)).for('share');
    if (!grant || grant.status !== 'active' || grant.expiresAt <= ctx.now) throw inactiveSubject();
    if (row.ancestors.length > 0) {
      const revoked = await tx
        .select({ jti: issuedTokens.jti })
        .from(issuedTokens)
        .where(and(inArray(issuedTokens.jti, row.ancestors), isNotNull(issuedTokens.revokedAt)))
        .limit(1);
      if (revoked.length > 0) throw inactiveSubject();
    }
    if (row.dpopJkt !== null && issuedType === VC_TOKEN_TYPE) {
      throw refuse('subject_token is DPoP-bound and cannot become an unbound credential');
    }
    if (row.dpopJkt !== null && req.dpopJkt === undefined) {
      throw refuse(
        'subject_token is DPoP-bound: the exchange needs a DPoP proof, and the new token is bound to its key',
      );
    }
    const depth = row.depth + 1;
    if (depth > ctx.maxDepth) {
      throw refuse(
        `subject_token is already ${row.depth} exchange(s) deep; this broker allows at most ${ctx.maxDepth}`,
      );
    }
    for (const target of req.targets) {
      if (target !== row.audience) {
        throw new OAuthError(
          'invalid_target',
          `an exchanged token keeps its parent's audience ${row.audience}, not ${target}`,
        );
      }
    }
    const parentScopes = row.scope.split(' ').filter((s) => s.length > 0);
    const scopes = req.scopes ?? parentScopes;
    const wider = scopes.filter((s) => !parentScopes.includes(s));
    if (wider.length > 0) {
      throw new OAuthError(
        'invalid_scope',
        `scope ${wider.join(' ')} is not in the subject_token's scope (${row.scope})`,
      );
    }
    // Never past the parent, the grant, the grant's per-token ceiling or our default.
    const end = Math.min(row.expiresAt.getTime(), grant.expiresAt.getTime());
    const lifetime = Math.min(
      ctx.accessTokenTtl,
      grant.maxTokenTtl,
      Math.floor((end - ctx.now.getTime()) / 1000),
    );
    if (lifetime < 1) throw inactiveSubject();

    // The actor token is spent only if the exchange succeeds (the insert rolls back
    // with everything else); a concurrent replay blocks on the key, then sees it taken.
    const spent = await tx
      .insert(clientAssertionJtis)
      .values({
        clientId: ctx.client.clientId,
        jti: actor.jti,
        expiresAt: new Date((actor.exp + ctx.clockSkew) * 1000),
      })
      .onConflictDoNothing()
      .returning({ jti: clientAssertionJtis.jti });
    if (spent.length === 0) throw refuse('actor_token was already used');

    const target = grant.resources.find((r) => r.resource === row.audience);
    if (!target) throw inactiveSubject();
    const verdict = await decideMint(tx, ctx.policy, {
      action: 'ExchangeToken',
      tenantId: row.tenantId,
      grant,
      agent: ctx.client.clientId,
      target,
      scopes,
      task: parent.task,
      authorizationDetails: undefined,
      lifetime,
      ttlCeiling: lifetime,
      depth,
      now: ctx.now,
      escalation: ctx.escalation,
    });
    if (verdict.kind === 'refuse') {
      await recordRefusal(tx, grant, ctx.client.clientId, verdict, ctx.now);
      // Committed with its ledger entry (the actor token stays spent), then thrown.
      return { policyRefusal: verdict.error };
    }
    // No REUSE without an identical-token question: an exchange always mints.
    const granted = verdict.kind === 'mint' ? verdict : undefined;

    const input: AccessTokenInput = {
      issuer: ctx.issuer,
      subject: grant.userId,
      audience: row.audience,
      clientId: ctx.client.clientId,
      scopes: granted?.scopes ?? scopes,
      actor: { sub: ctx.client.clientId, act: parent.act },
      tenantId: row.tenantId,
      grantId: row.grantId,
      task: parent.task,
      dpopJkt: issuedType === VC_TOKEN_TYPE ? undefined : req.dpopJkt,
      issuedAt: ctx.now,
      lifetime: granted?.lifetime ?? lifetime,
      status: ctx.status,
    };
    const minted =
      issuedType === VC_TOKEN_TYPE
        ? await mintVcToken(ctx.signer, input)
        : await mintAccessToken(ctx.signer, input);
    await recordIssuedToken(
      tx,
      minted,
      {
        kind: issuedType === VC_TOKEN_TYPE ? 'vc' : 'access',
        parentJti: row.jti,
        ancestors: [...row.ancestors, row.jti],
        depth,
      },
      granted?.decision,
    );
    const response: ExchangeResponse = {
      access_token: minted.token,
      issued_token_type: issuedType,
      token_type:
        issuedType === VC_TOKEN_TYPE ? 'N_A' : req.dpopJkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: minted.expiresIn,
      scope: minted.claims.scope,
      ...(granted?.note ? { policy: granted.note } : {}),
    };
    return response;
  });
  if ('policyRefusal' in outcome) throw outcome.policyRefusal;
  return outcome;
}

function checkTypes(req: ExchangeRequest): IssuedTokenType {
  if (req.subjectToken === undefined) throw refuse('subject_token is required');
  if (req.subjectTokenType === undefined) throw refuse('subject_token_type is required');
  if (req.subjectTokenType !== ACCESS_TOKEN_TYPE) {
    throw refuse(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  // Optional in RFC 8693; required here, because the sub-agent's own signature is what
  // puts it in the `act` chain (a client assertion alone proves only who is calling).
  if (req.actorToken === undefined) throw refuse('actor_token is required');
  if (req.actorTokenType !== JWT_TOKEN_TYPE) {
    throw refuse(`actor_token_type must be ${JWT_TOKEN_TYPE}`);
  }
  const requested = req.requestedTokenType ?? ACCESS_TOKEN_TYPE;
  const known = EXCHANGE_TOKEN_TYPES.find((t) => t === requested);
  if (!known) {
    throw refuse(`requested_token_type must be one of ${EXCHANGE_TOKEN_TYPES.join(', ')}`);
  }
  if (req.scopes !== undefined && req.scopes.length === 0) {
    throw new OAuthError('invalid_scope', 'scope, when given, must name at least one scope');
  }
  return known;
}
