/**
 * The verifiable-credential form of a task token (DESIGN.md, The access token): the
 * same facts as the RFC 9068 access token, as a W3C VC Data Model 2.0 credential
 * secured as a JWT per VC-JOSE-COSE §3.1.1. The JWT payload *is* the credential (no
 * `vc` wrapper); the header says `typ: vc+jwt`, and `kid` is a DID URL into the
 * broker's did:web document, so any VC verifier can resolve the key.
 *
 * Pure like mintAccessToken: the caller records the result (kind `vc`) in the
 * transaction that decided to mint it, before handing it out.
 */
import { SignJWT } from 'jose';
import { didWebFor, verificationMethodId } from '../did/did-web.ts';
import type { SigningKey } from '../keys/key-store.ts';
import {
  statusClaim,
  statusListCredentialUri,
  type StatusEntry,
} from '../revocation/status-claim.ts';
import type { AccessTokenClaims, AccessTokenInput, Actor, TaskClaim } from './access-token.ts';

/** RFC 8693 `requested_token_type` / `issued_token_type` for this form (a Mandate URN). */
export const VC_TOKEN_TYPE = 'urn:mandate:token-type:vc+jwt';
/** VC-JOSE-COSE §3.1.1: the media type application/vc+jwt, as a JWS `typ`. */
export const VC_TYP = 'vc+jwt';
export const CREDENTIALS_V2_CONTEXT = 'https://www.w3.org/ns/credentials/v2';
export const AGENT_AUTHORIZATION_CREDENTIAL = 'AgentAuthorizationCredential';
/** Bitstring Status List v1.0 §2.1: where a credential's revocation bit lives. */
export interface BitstringStatusListEntry {
  id: string;
  type: 'BitstringStatusListEntry';
  statusPurpose: 'revocation';
  /** A string of a base-10 integer, as the spec requires. */
  statusListIndex: string;
  statusListCredential: string;
}

export type VcTokenInput = AccessTokenInput;

/** The facts of the access token, named for a reader of the credential. */
export interface AgentAuthorizationSubject {
  /** The person, as a URN of their (tenant-scoped) user id. */
  id: string;
  tenant: string;
  /** The client acting now (`client_id` of the access token). */
  agent: string;
  /** RFC 8693 actor chain, current actor outermost, exactly as in the access token. */
  actor: Actor;
  /** Space-separated, as OAuth writes scopes. */
  scope: string;
  audience: string;
  grant: string;
  task?: TaskClaim;
}

/** The JWT payload: a VCDM 2.0 credential plus the JWT claims that must agree with it. */
export interface AgentAuthorizationCredential {
  '@context': string[];
  id: string;
  type: ['VerifiableCredential', typeof AGENT_AUTHORIZATION_CREDENTIAL];
  issuer: string;
  validFrom: string;
  validUntil: string;
  credentialSubject: AgentAuthorizationSubject;
  credentialStatus: BitstringStatusListEntry;
  // VC-JOSE-COSE §3.1.1: JWT claims may sit beside the credential but must not
  // contradict it: iss = issuer, jti = id, sub = credentialSubject.id, and iat/exp
  // equal validFrom/validUntil so JWT-only tooling enforces the same window.
  iss: string;
  jti: string;
  sub: string;
  iat: number;
  exp: number;
}

export interface MintedVcToken {
  token: string;
  /**
   * The same facts in access-token shape, for recording (issued_tokens.jti is
   * `claims.jti`, which is the credential id) and for callers that compare forms.
   */
  claims: AccessTokenClaims;
  credential: AgentAuthorizationCredential;
  expiresIn: number;
  status: StatusEntry;
}

export async function mintVcToken(signer: SigningKey, input: VcTokenInput): Promise<MintedVcToken> {
  if (!Number.isInteger(input.lifetime) || input.lifetime <= 0) {
    throw new RangeError(
      `a credential lifetime must be a positive whole number, got ${input.lifetime}`,
    );
  }
  const { did } = didWebFor(input.issuer);
  const iat = Math.floor(input.issuedAt.getTime() / 1000);
  const exp = iat + input.lifetime;
  // 122 random bits; a urn:uuid is what VCDM 2.0 §4.4 suggests for an `id` that is not a URL.
  const id = input.jti ?? `urn:uuid:${crypto.randomUUID()}`;
  const subjectId = `urn:uuid:${input.subject}`;
  const task = input.task && Object.keys(input.task).length > 0 ? input.task : undefined;
  // The same bit as the access token form's `status` claim, published as a W3C
  // BitstringStatusListCredential beside the token status list.
  const listUrl = statusListCredentialUri(input.issuer, input.status.listId);
  const credential: AgentAuthorizationCredential = {
    '@context': [CREDENTIALS_V2_CONTEXT],
    id,
    type: ['VerifiableCredential', AGENT_AUTHORIZATION_CREDENTIAL],
    issuer: did,
    validFrom: new Date(iat * 1000).toISOString(),
    validUntil: new Date(exp * 1000).toISOString(),
    credentialSubject: {
      id: subjectId,
      tenant: input.tenantId,
      agent: input.clientId,
      actor: input.actor,
      scope: input.scopes.join(' '),
      audience: input.audience,
      grant: input.grantId,
      ...(task ? { task } : {}),
    },
    credentialStatus: {
      id: `${listUrl}#${input.status.idx}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(input.status.idx),
      statusListCredential: listUrl,
    },
    iss: did,
    jti: id,
    sub: subjectId,
    iat,
    exp,
  };
  const token = await new SignJWT({ ...credential })
    .setProtectedHeader({
      alg: signer.alg,
      kid: verificationMethodId(did, signer.kid),
      typ: VC_TYP,
    })
    .sign(signer.key);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    exp,
    iat,
    jti: id,
    client_id: input.clientId,
    scope: credential.credentialSubject.scope,
    act: input.actor,
    tid: input.tenantId,
    grant_id: input.grantId,
    ...(task ? { task } : {}),
    status: statusClaim(input.status),
  };
  return { token, claims, credential, expiresIn: input.lifetime, status: input.status };
}
