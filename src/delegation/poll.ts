/**
 * The agent's poll for a CIBA request (OpenID CIBA Core §10.1, §11; the slow_down
 * rule is RFC 8628 §3.5's). Runs in one transaction with the request row locked,
 * so two concurrent polls are serialised: of two polls of an approved request
 * exactly one redeems it, and the other sees it redeemed.
 *
 * Redemption generates the grant handle (given to the agent as `refresh_token`;
 * only its SHA-256 is stored), signs the first access token and records it, all
 * before the transaction commits: if any step fails, nothing is redeemed and no
 * token was handed out.
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { cibaRequests, grants } from '../db/schema.ts';
import type { SigningKey } from '../keys/key-store.ts';
import { OAuthError } from '../oauth/errors.ts';
import { randomToken, sha256base64url } from '../random.ts';
import { mintAccessToken } from '../tokens/access-token.ts';
import { tokenLifetime } from '../tokens/lifetime.ts';
import { recordIssuedToken } from '../tokens/record.ts';
import type { StatusEntry } from '../revocation/status-claim.ts';
import { agentTask } from './request-view.ts';

/** RFC 8628 §3.5: each slow_down adds five seconds to the interval for good. */
const SLOW_DOWN_STEP = 5;
/** No client is told to wait longer than this between polls. */
const MAX_INTERVAL = 120;
const AUTH_REQ_ID_MAX = 128;

export interface PollInput {
  clientId: string;
  authReqId: string;
  /** The API the first token is for; defaults to the grant's first resource. */
  resource: string | undefined;
  now: Date;
  issuer: string;
  accessTokenTtl: number;
  /** Fetched before the transaction: on PGlite a query outside it would wait for it to end. */
  signer: SigningKey;
  /** The first token's status-list entry, allocated before the transaction like the signer. */
  status: StatusEntry;
  /**
   * Thumbprint of the poll's verified DPoP proof (RFC 9449). The poll that redeems
   * binds the grant, and the first token, to that key.
   */
  dpopJkt?: string | undefined;
}

export interface CibaTokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token: string;
  scope: string;
  authorization_details?: Record<string, unknown>[];
}

/** One answer for unknown, someone else's, used, revoked and ended: nothing to learn. */
const invalidGrant = () =>
  new OAuthError(
    'invalid_grant',
    'auth_req_id is invalid, expired, used or was issued to another client',
  );

export async function pollCibaRequest(db: Database, p: PollInput): Promise<CibaTokenResponse> {
  if (p.authReqId.length > AUTH_REQ_ID_MAX) throw invalidGrant();
  const hash = await sha256base64url(p.authReqId);
  // Errors that record something (the poll time, a longer interval) must commit, so the
  // transaction returns them and they are thrown after it.
  const outcome = await db.transaction(async (tx) => {
    const [request] = await tx
      .select()
      .from(cibaRequests)
      .where(and(eq(cibaRequests.authReqIdHash, hash), eq(cibaRequests.clientId, p.clientId)))
      .for('update');
    if (!request) throw invalidGrant();
    // An approval that landed in time stays redeemable after the request's own expiry,
    // for as long as the grant lives: the person decided, and the grant bounds everything.
    if (request.status !== 'approved' && request.expiresAt <= p.now) {
      throw new OAuthError('expired_token', 'the request expired before it was approved');
    }
    if (request.status === 'denied') {
      throw new OAuthError('access_denied', 'the person denied the request');
    }
    if (request.status === 'pending') {
      const since = request.lastPolledAt
        ? (p.now.getTime() - request.lastPolledAt.getTime()) / 1000
        : Infinity;
      const tooSoon = since < request.pollInterval;
      // A too-early poll lengthens the interval (as the client must, RFC 8628 §3.5) but
      // does not restart it, and the growth is capped: a client whose own interval fell
      // behind ours (two waiters on one request, say) still catches up and gets served.
      const interval = Math.min(request.pollInterval + SLOW_DOWN_STEP, MAX_INTERVAL);
      await tx
        .update(cibaRequests)
        .set(tooSoon ? { pollInterval: interval } : { lastPolledAt: p.now })
        .where(eq(cibaRequests.id, request.id));
      return tooSoon
        ? new OAuthError('slow_down', `poll at most every ${interval} seconds`)
        : new OAuthError('authorization_pending', 'the person has not decided yet');
    }
    if (request.redeemedAt || !request.grantId) throw invalidGrant();
    const [grant] = await tx.select().from(grants).where(eq(grants.id, request.grantId));
    // Under a second left cannot carry a token whose lifetime is counted in whole seconds.
    const ended = !grant || grant.expiresAt.getTime() - p.now.getTime() < 1000;
    if (ended || grant.status !== 'active') throw invalidGrant();

    const granted =
      p.resource === undefined
        ? grant.resources[0]
        : grant.resources.find((r) => r.resource === p.resource);
    if (!granted) {
      throw new OAuthError(
        'invalid_target',
        `resource ${p.resource ?? ''} is not part of the grant`,
      );
    }
    // Compare-and-swap: the row lock already serialises polls; this is the guard that
    // keeps a second redemption impossible even if the lock were ever dropped.
    const [redeemed] = await tx
      .update(cibaRequests)
      .set({ redeemedAt: p.now })
      .where(and(eq(cibaRequests.id, request.id), isNull(cibaRequests.redeemedAt)))
      .returning({ id: cibaRequests.id });
    if (!redeemed) throw invalidGrant();
    const handle = randomToken(32);
    const [bound] = await tx
      .update(grants)
      .set({ handleHash: await sha256base64url(handle), dpopJkt: p.dpopJkt ?? null })
      .where(and(eq(grants.id, grant.id), isNull(grants.handleHash)))
      .returning({ id: grants.id });
    if (!bound) throw invalidGrant();

    const task = agentTask(grant.authorizationDetails);
    const minted = await mintAccessToken(p.signer, {
      issuer: p.issuer,
      subject: grant.userId,
      audience: granted.resource,
      clientId: grant.clientId,
      scopes: granted.scopes,
      actor: { sub: grant.clientId },
      tenantId: grant.tenantId,
      grantId: grant.id,
      task:
        task.purpose === undefined
          ? undefined
          : {
              ...(task.identifier === undefined ? {} : { id: task.identifier }),
              purpose: task.purpose,
            },
      issuedAt: p.now,
      dpopJkt: p.dpopJkt,
      lifetime: tokenLifetime({
        defaultTtl: p.accessTokenTtl,
        grantMaxTokenTtl: grant.maxTokenTtl,
        grantExpiresAt: grant.expiresAt,
        now: p.now,
      }),
      status: p.status,
    });
    await recordIssuedToken(tx, minted);
    const response: CibaTokenResponse = {
      access_token: minted.token,
      // RFC 9449 §5: a DPoP-bound token is announced as such.
      token_type: p.dpopJkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: minted.expiresIn,
      refresh_token: handle,
      scope: minted.claims.scope,
      ...(grant.authorizationDetails ? { authorization_details: grant.authorizationDetails } : {}),
    };
    return response;
  });
  if (outcome instanceof OAuthError) throw outcome;
  return outcome;
}
