/** The verifier's public shapes. */
import type { MandateClaims } from './claims.ts';
import type { VerifierRequest } from './authorization.ts';
import type { AuthScheme } from './errors.ts';
import type { OverrunReport, OverrunResult } from './overrun.ts';

/**
 * A request's access token, verified: signature, claims, DPoP binding, revocation.
 *
 * @example
 * const t = await verifier.verifyRequest(req);
 * t.claims.sub;                  // the person the agent acts for
 * t.scopes.includes('repo:read'); // what the task may do
 */
export interface VerifiedToken {
  /** The access token as received. */
  token: string;
  /** How it was presented: DPoP for tokens bound to a key (`cnf.jkt`), Bearer otherwise. */
  scheme: AuthScheme;
  claims: MandateClaims;
  /** `scope`, split. */
  scopes: readonly string[];
}

/**
 * Verifies Mandate access tokens for one API, and tells the broker about overruns.
 *
 * @example
 * const verifier = createVerifier({ issuer, audience, client });
 * await verifier.ready();
 * const t = await verifier.verifyRequest({ method: req.method, url: req.url, headers: req.headers });
 * if (!t.scopes.includes('repo:write')) {
 *   await verifier.reportOverrun({ token: t, attemptedScope: ['repo:write'] });
 * }
 * await verifier.close(); // on shutdown: ends the event stream
 */
export interface Verifier {
  readonly issuer: string;
  readonly audience: string;
  /** True while the revocation event stream is connected and past its replay. */
  readonly live: boolean;
  /**
   * Resolves once discovery is done and, with events on, the stream has said `ready`.
   * Rejects with a BrokerError when discovery or the first connection fails (the
   * verifier keeps retrying the stream, and checks status lists meanwhile).
   */
  ready(): Promise<void>;
  /** The request's verified token; throws VerifierError (the request's fault) or BrokerError. */
  verifyRequest(req: VerifierRequest): Promise<VerifiedToken>;
  /**
   * Tells the broker a token was used beyond its scope. The token is dropped by
   * this verifier at once; the broker revokes it everywhere (and by policy its grant).
   */
  reportOverrun(p: OverrunReport<string | VerifiedToken>): Promise<OverrunResult>;
  /** Ends the event stream and its timers. */
  close(): Promise<void>;
}
