/**
 * Transaction-bound approval with a passkey. Step one fixes the exact approval
 * (request, scopes left ticked, APIs, grant expiry, token lifetime, a fresh
 * server nonce) as a canonical document and derives the WebAuthn challenge from
 * its SHA-256. Step two accepts only an assertion over that challenge, by this
 * person's own passkey, for this request, once; it then asks the tenant's policy
 * (Approve) and creates the grant, as narrowed as the policy says, with the
 * evidence needed to re-verify the approval later — or, if the policy refuses,
 * denies the request. Either way the challenge is used up.
 */
import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { and, eq } from 'drizzle-orm';
import { base64url } from 'jose';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { passkeys } from '../db/schema.ts';
import { verifyPasskeyAssertion } from '../passkeys/verify-assertion.ts';
import { consumeChallenge, issueChallenge } from '../passkeys/challenge-store.ts';
import { claimedChallenge } from '../passkeys/errors.ts';
import { relyingParty } from '../passkeys/rp.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { randomToken } from '../random.ts';
import {
  approvalChallenge,
  approvalChallengeBytes,
  canonicalText,
  parseCanonical,
  type ApprovalDocument,
} from './approval-document.ts';
import {
  approveRequest,
  DelegationError,
  MIN_GRANT_TTL,
  narrowResources,
  type ApprovalResult,
} from './decide.ts';
import { loadRequestView, type RequestView } from './request-view.ts';

export interface ApprovalDeps {
  db: Database;
  config: Pick<
    Config,
    | 'publicUrl'
    | 'grantTtl'
    | 'grantMaxTtl'
    | 'accessTokenTtl'
    | 'accessTokenMaxTtl'
    | 'webauthnChallengeTtl'
  >;
  clock: Clock;
  /** Asked (Approve) before the grant is created; undefined only in benchmarks. */
  policy: PolicyEngine | undefined;
}

export interface Who {
  tenantId: string;
  userId: string;
}

export interface ApprovalChoice {
  resources: { resource: string; scopes: string[] }[];
  /** Seconds the grant should last; at most what the agent asked for. */
  duration: number;
}

/** The longest grant this request may become: what the agent asked, capped by configuration. */
export function durationCeiling(view: RequestView, config: ApprovalDeps['config']): number {
  return Math.min(view.requestedGrantTtl ?? config.grantTtl, config.grantMaxTtl);
}

export async function prepareApproval(
  deps: ApprovalDeps,
  who: Who,
  requestId: string,
  choice: ApprovalChoice,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const now = deps.clock.now();
  const view = await loadRequestView(deps.db, who, requestId, now);
  if (!view || view.status !== 'pending') {
    throw new DelegationError('ERR_NOT_PENDING', 'this request is no longer waiting for you');
  }
  const resources = narrowResources(view.requested, choice.resources);
  const ceiling = durationCeiling(view, deps.config);
  if (
    !Number.isInteger(choice.duration) ||
    choice.duration < MIN_GRANT_TTL ||
    choice.duration > ceiling
  ) {
    throw new DelegationError(
      'ERR_WIDENED',
      `the duration must be between ${MIN_GRANT_TTL} and ${ceiling} seconds, got ${String(choice.duration)}`,
    );
  }
  const maxTokenTtl = Math.min(
    view.task.maxTokenTtl ?? deps.config.accessTokenMaxTtl,
    deps.config.accessTokenMaxTtl,
    choice.duration,
  );
  const doc: ApprovalDocument = {
    v: 1,
    issuer: deps.config.publicUrl,
    tenant_id: who.tenantId,
    user_id: who.userId,
    client_id: view.clientId,
    request_id: view.id,
    decision: 'approve',
    resources: resources.map((r) => ({ resource: r.resource, scopes: r.scopes })),
    authorization_details: view.authorizationDetails,
    binding_message: view.bindingMessage,
    grant_expires_at: new Date(now.getTime() + choice.duration * 1000).toISOString(),
    max_token_ttl: maxTokenTtl,
    nonce: randomToken(16),
  };
  const canonical = canonicalText(doc);
  const challenge = await approvalChallengeBytes(canonical);
  await issueChallenge(deps.db, {
    purpose: 'approval',
    tenantId: who.tenantId,
    userId: who.userId,
    challenge: base64url.encode(challenge),
    context: { request_id: view.id, document: canonical },
    now,
    ttl: deps.config.webauthnChallengeTtl,
  });
  const mine = await deps.db
    .select({ id: passkeys.id, transports: passkeys.transports })
    .from(passkeys)
    .where(and(eq(passkeys.tenantId, who.tenantId), eq(passkeys.userId, who.userId)));
  return generateAuthenticationOptions({
    rpID: relyingParty(deps.config).rpID,
    challenge,
    allowCredentials: mine,
    userVerification: 'required',
    timeout: deps.config.webauthnChallengeTtl * 1000,
  });
}

export async function completeApproval(
  deps: ApprovalDeps,
  who: Who,
  requestId: string,
  response: AuthenticationResponseJSON,
): Promise<ApprovalResult> {
  const now = deps.clock.now();
  const refused = (why: string) => new DelegationError('ERR_NOT_PENDING', why);
  const challenge = claimedChallenge(response.response.clientDataJSON);
  if (!challenge) throw refused('the passkey response carries no challenge');
  return deps.db.transaction(async (tx) => {
    const row = await consumeChallenge(tx, { challenge, purpose: 'approval', now });
    const context = row?.context;
    if (
      !row ||
      row.tenantId !== who.tenantId ||
      row.userId !== who.userId ||
      context?.request_id !== requestId ||
      typeof context.document !== 'string'
    ) {
      throw refused('this passkey response does not answer an approval of this request');
    }
    const document = context.document;
    // The stored document is what the challenge was derived from; check rather than trust.
    if ((await approvalChallenge(document)) !== challenge) {
      throw refused('the approval document does not match its challenge');
    }
    const rp = relyingParty(deps.config);
    const assertion = await verifyPasskeyAssertion(tx, {
      response,
      expectedChallenge: challenge,
      tenantId: who.tenantId,
      userId: who.userId,
      rp,
      now,
    });
    const doc = parseCanonical(document);
    if (!doc) throw refused('the approval document is not canonical');
    return approveRequest(tx, {
      tenantId: who.tenantId,
      userId: who.userId,
      requestId,
      resources: doc.resources,
      grantExpiresAt: new Date(doc.grant_expires_at),
      maxTokenTtl: doc.max_token_ttl,
      evidence: {
        credential_id: assertion.passkeyId,
        authenticator_data: assertion.authenticatorData,
        client_data_json: assertion.clientDataJSON,
        signature: assertion.signature,
        user_handle: assertion.userHandle ?? null,
        document,
        origin: rp.origin,
        rp_id: rp.rpID,
      },
      now,
      policy: deps.policy && { engine: deps.policy, grantMaxTtl: deps.config.grantMaxTtl },
    });
  });
}
