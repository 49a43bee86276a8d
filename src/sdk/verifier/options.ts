/**
 * Every option of a verifier, its default and why, in one place. Options are
 * checked once, when the verifier is created, so a misconfigured API fails at
 * start-up instead of on its first request.
 */
import type { CryptoKey, JWK } from 'jose';

/** This API's own `private_key_jwt` identity at the broker (RFC 7523). */
export interface VerifierClient {
  /** The client id the operator got from `mandate api add`. */
  clientId: string;
  /** The private half of a key registered for the API (its JWKS). */
  privateKey: CryptoKey | JWK;
  /** JWS algorithm; default: the JWK's `alg`, else the one the key's type implies. */
  alg?: string;
  /** `kid` header of the assertions; default: the JWK's `kid`. */
  kid?: string;
}

/**
 * How to build a verifier.
 *
 * @example
 * const options: VerifierOptions = {
 *   issuer: 'https://broker.example',
 *   audience: 'https://repos.example/',
 *   client: { clientId: 'api_…', privateKey: jwkFromSecretStore },
 * };
 */
export interface VerifierOptions {
  /** The broker's issuer URL, exactly as its metadata says (`metadata.issuer` must equal it). */
  issuer: string;
  /** This API's resource indicator: the `aud` its tokens carry. */
  audience: string;
  /** This API's identity, needed for overrun reports and the revocation event stream. */
  client?: VerifierClient;
  /** Follow the revocation event stream. Default: true when `client` is given. */
  events?: boolean;
  /**
   * Check the token's status list whenever the event stream is not live. Default true.
   * Off, a verifier without a live stream knows only the revocations it has seen.
   */
  statusList?: boolean;
  /** Seconds of clock tolerance for exp, nbf and DPoP iat. Default 5. */
  leeway?: number;
  /** How old a DPoP proof may be, seconds (RFC 9449 §11.1). Default 60. */
  dpopMaxAge?: number;
  /** How long requireScope waits for the broker to take an overrun report, ms. Default 2000. */
  overrunTimeout?: number;
  /** Injectable fetch (tests route it into an in-process broker). Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Injectable clock, milliseconds since the epoch. Default: Date.now. */
  now?: () => number;
  /**
   * Where background failures go (a dropped event stream, a failed overrun report).
   * Default: console.warn.
   */
  onError?: (error: unknown) => void;
}

export interface ResolvedOptions {
  issuer: string;
  audience: string;
  client: VerifierClient | undefined;
  events: boolean;
  statusList: boolean;
  leeway: number;
  dpopMaxAge: number;
  overrunTimeout: number;
  fetch: typeof fetch;
  now: () => number;
  onError: (error: unknown) => void;
}

export function resolveOptions(o: VerifierOptions): ResolvedOptions {
  if (!isHttpUrl(o.issuer))
    throw new TypeError(`issuer must be an http(s) URL, got ${String(o.issuer)}`);
  if (typeof o.audience !== 'string' || o.audience.length === 0) {
    throw new TypeError('audience must be a non-empty string (this API’s resource indicator)');
  }
  const events = o.events ?? o.client !== undefined;
  if (events && !o.client) {
    throw new TypeError('events need client: the broker streams revocations only to its APIs');
  }
  if (o.client && (typeof o.client.clientId !== 'string' || o.client.clientId.length === 0)) {
    throw new TypeError('client.clientId must be a non-empty string');
  }
  const globalFetch = globalThis.fetch;
  return {
    issuer: o.issuer,
    audience: o.audience,
    client: o.client,
    events,
    statusList: o.statusList ?? true,
    leeway: nonNegative(o.leeway, 5, 'leeway'),
    dpopMaxAge: nonNegative(o.dpopMaxAge, 60, 'dpopMaxAge'),
    overrunTimeout: nonNegative(o.overrunTimeout, 2000, 'overrunTimeout'),
    // Bound to the global: calling a detached fetch throws on Workers and in browsers.
    fetch: o.fetch ?? ((input, init) => globalFetch(input, init)),
    now: o.now ?? Date.now,
    onError: o.onError ?? ((error) => console.warn('[mandate/verifier]', error)),
  };
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative number, got ${value}`);
  }
  return value;
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:';
}
