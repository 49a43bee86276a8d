/**
 * The broker's did:web document: every published signing key (the JWKS: current,
 * next, and retired keys still covering unexpired tokens) as an assertionMethod, so a
 * VC verifier can check any credential we signed with the key its `kid` names.
 *
 * The type is `JsonWebKey2020` (W3C CCG jws-2020 suite), not CID 1.0's newer
 * `JsonWebKey`: the independent verifier we test against (@credo-ts/core 0.6) maps
 * only `JsonWebKey2020` and `Multikey` to keys, and both carry the same JWK.
 */
import type { JSONWebKeySet, JWK } from 'jose';
import { verificationMethodId } from './did-web.ts';

export const DID_CONTEXT = 'https://www.w3.org/ns/did/v1';
export const JWS_2020_CONTEXT = 'https://w3id.org/security/suites/jws-2020/v1';
export const VERIFICATION_METHOD_TYPE = 'JsonWebKey2020';

export interface VerificationMethod {
  id: string;
  type: typeof VERIFICATION_METHOD_TYPE;
  controller: string;
  publicKeyJwk: JWK;
}

export interface DidDocument {
  '@context': string[];
  id: string;
  verificationMethod: VerificationMethod[];
  assertionMethod: string[];
}

/** Members a public JWK may carry; anything else (a private part above all) is dropped. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'] as const;

export function didDocument(did: string, jwks: JSONWebKeySet): DidDocument {
  const methods = jwks.keys
    .filter((k): k is JWK & { kid: string } => typeof k.kid === 'string')
    .map((k): VerificationMethod => ({
      id: verificationMethodId(did, k.kid),
      type: VERIFICATION_METHOD_TYPE,
      controller: did,
      publicKeyJwk: Object.fromEntries(
        PUBLIC_MEMBERS.filter((m) => k[m] !== undefined).map((m) => [m, k[m]]),
      ),
    }));
  return {
    '@context': [DID_CONTEXT, JWS_2020_CONTEXT],
    id: did,
    verificationMethod: methods,
    // Signing credentials is an assertion (DID Core §5.3.2); the broker never
    // authenticates as this DID, so no `authentication` relationship is published.
    assertionMethod: methods.map((m) => m.id),
  };
}
