/**
 * `mandate/verifier`: verifying Mandate access tokens in a backend API.
 *
 * Offline JWT verification against the broker's JWKS (RFC 9068 profile, pinned
 * algorithms), DPoP proof-of-possession for bound tokens (RFC 9449 §7), revocation
 * from the broker's live event stream with the Token Status List as fallback, and
 * overrun reports that make the broker revoke a misused token everywhere.
 *
 * @example
 * import { Hono } from 'hono';
 * import { createVerifier, mandateAuth, requireScope, type MandateEnv } from 'mandate/verifier';
 *
 * const verifier = createVerifier({
 *   issuer: 'https://broker.example',
 *   audience: 'https://repos.example/',
 *   client: { clientId: 'api_…', privateKey: apiPrivateJwk },
 * });
 * const app = new Hono<MandateEnv>();
 * app.use('/repos/*', mandateAuth(verifier));
 * app.get('/repos/:id', requireScope('repo:read'), (c) => c.json({ for: c.var.mandate.claims.sub }));
 */
export { createVerifier } from './verifier/create-verifier.ts';
export type { Verifier, VerifiedToken } from './verifier/types.ts';
export type { VerifierOptions, VerifierClient } from './verifier/options.ts';
export type { VerifierRequest } from './verifier/authorization.ts';
export type { MandateClaims, Actor } from './verifier/claims.ts';
export type { OverrunReport, OverrunResult } from './verifier/overrun.ts';
export {
  VerifierError,
  type VerifierErrorCode,
  type VerifierErrorKind,
  type AuthScheme,
} from './verifier/errors.ts';
export { BrokerError, type BrokerErrorCode } from './verifier/broker-error.ts';
export { mandateAuth, requireScope, type MandateEnv } from './verifier/hono.ts';
