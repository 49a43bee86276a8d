/**
 * Mints an RFC 9068 JWT access token (the profile in DESIGN.md, The access token).
 * Pure: it signs what it is given with the key it is given and touches no
 * database, so every grant (CIBA's first token, per-task mints, token exchange)
 * can share it; the caller records the token in the same transaction before
 * handing it out (see record.ts).
 */
import { SignJWT } from 'jose';
import type { SigningKey } from '../keys/key-store.ts';
import { randomToken } from '../random.ts';
import { statusClaim, type StatusClaim, type StatusEntry } from '../revocation/status-claim.ts';

/** RFC 9068 §2.1: the header type resource servers must insist on. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** RFC 8693 §3: the token type identifier of what mintAccessToken returns. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** RFC 8693 §4.1: the current actor outermost; earlier actors nest inside. */
export interface Actor {
  sub: string;
  act?: Actor;
}

/** What the task token is for (from RFC 9396 `agent_task`): an id and the purpose in words. */
export interface TaskClaim {
  id?: string;
  purpose?: string;
}

export interface AccessTokenInput {
  issuer: string;
  /** The person the agent acts for (their user id). */
  subject: string;
  /** Exactly one API audience (RFC 8707 narrows `aud` to the requested resource). */
  audience: string;
  clientId: string;
  scopes: string[];
  actor: Actor;
  tenantId: string;
  grantId: string;
  task?: TaskClaim | undefined;
  /** RFC 9449 §6.1: the RFC 7638 thumbprint of the DPoP key the token is bound to. */
  dpopJkt?: string | undefined;
  issuedAt: Date;
  /** Seconds; see tokenLifetime() for how the caller bounds it. */
  lifetime: number;
  /** Where the token's revocation bit lives: every token has one. */
  status: StatusEntry;
  /** Only to sign a recorded token's claims again (policy outcome REUSE); otherwise fresh. */
  jti?: string | undefined;
}

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  act: Actor;
  tid: string;
  grant_id: string;
  task?: TaskClaim;
  /** RFC 7800 confirmation: `jkt` when DPoP-bound (RFC 9449 §6.1). */
  cnf?: { jkt: string };
  /** draft-ietf-oauth-status-list §6.1: the token's entry in a status list. */
  status: StatusClaim;
}

export interface MintedAccessToken {
  token: string;
  claims: AccessTokenClaims;
  expiresIn: number;
  /** The status position, for the recorder. */
  status: StatusEntry;
}

export async function mintAccessToken(
  signer: SigningKey,
  input: AccessTokenInput,
): Promise<MintedAccessToken> {
  if (!Number.isInteger(input.lifetime) || input.lifetime <= 0) {
    throw new RangeError(
      `an access token lifetime must be a positive whole number, got ${input.lifetime}`,
    );
  }
  const iat = Math.floor(input.issuedAt.getTime() / 1000);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    exp: iat + input.lifetime,
    iat,
    // 128 random bits: unguessable, and the primary key of issued_tokens.
    jti: input.jti ?? randomToken(16),
    client_id: input.clientId,
    scope: input.scopes.join(' '),
    act: input.actor,
    tid: input.tenantId,
    grant_id: input.grantId,
    ...(input.task && Object.keys(input.task).length > 0 ? { task: input.task } : {}),
    ...(input.dpopJkt === undefined ? {} : { cnf: { jkt: input.dpopJkt } }),
    status: statusClaim(input.status),
  };
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: ACCESS_TOKEN_TYP })
    .sign(signer.key);
  return { token, claims, expiresIn: input.lifetime, status: input.status };
}
