/**
 * The verifier: discovery once, keys and status lists cached, revocations held in
 * memory from the event stream. A request costs one signature check and a few map
 * lookups while the stream is live; the network is only touched for what is not
 * cached yet (a new key, a status list past its ttl while the stream is down).
 */
import { verifyAccessToken, verifyIssuedToken } from './access-token.ts';
import { credentialsOf, type VerifierRequest } from './authorization.ts';
import { assertionSigner, type AssertionSigner } from './client-assertion.ts';
import { connectCore, type Core } from './core.ts';
import { checkBinding } from './binding.ts';
import { BrokerError } from './broker-error.ts';
import { VerifierError } from './errors.ts';
import { ExpiringSet } from './expiring-set.ts';
import { RevocationStream } from './event-stream.ts';
import { resolveOptions, type ResolvedOptions, type VerifierOptions } from './options.ts';
import { postOverrun, type OverrunReport, type OverrunResult } from './overrun.ts';
import { RevocationState } from './revocations.ts';
import type { Verifier, VerifiedToken } from './types.ts';

/** What the Hono middleware needs beyond the public interface. */
export interface VerifierInternals {
  overrunTimeout: number;
  onError: (error: unknown) => void;
}
const internals = new WeakMap<Verifier, VerifierInternals>();
export const internalsOf = (v: Verifier): VerifierInternals | undefined => internals.get(v);

/**
 * Creates a verifier for one API. Discovery starts at once; `ready()` says when it
 * (and, with events, the first live stream) is done.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://broker.example',
 *   audience: 'https://repos.example/',
 *   client: { clientId: 'api_…', privateKey: apiPrivateJwk },
 * });
 * await verifier.ready();
 * const token = await verifier.verifyRequest(request); // throws VerifierError
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const o = resolveOptions(options);
  const v = new MandateVerifier(o);
  internals.set(v, { overrunTimeout: o.overrunTimeout, onError: o.onError });
  return v;
}

class MandateVerifier implements Verifier {
  readonly issuer: string;
  readonly audience: string;
  private core: Core | undefined;
  private setupPromise: Promise<Core> | undefined;
  private stream: RevocationStream | undefined;
  private closed = false;
  private readonly revoked: RevocationState;
  private readonly proofs: ExpiringSet;
  private readonly sign: AssertionSigner | undefined;
  /** VerifiedTokens this verifier made: a report about one needs no second check. */
  private readonly issued = new WeakSet<VerifiedToken>();

  constructor(private readonly o: ResolvedOptions) {
    this.issuer = o.issuer;
    this.audience = o.audience;
    this.revoked = new RevocationState(o.now, o.leeway);
    this.proofs = new ExpiringSet(o.now, 10_000);
    this.sign = o.client && assertionSigner(o.client, o.issuer, o.now);
    this.setup().catch(() => undefined);
  }

  get live(): boolean {
    return this.stream?.live ?? false;
  }

  async ready(): Promise<void> {
    await this.setup();
    if (this.stream) await this.stream.firstReady;
  }

  async verifyRequest(req: VerifierRequest): Promise<VerifiedToken> {
    const { scheme, token, proof } = credentialsOf(req);
    const core = this.core ?? (await this.setup());
    const now = this.o.now();
    const claims = await verifyAccessToken(core.check, token, now, scheme);
    const dpop = { maxAge: this.o.dpopMaxAge, leeway: this.o.leeway, seen: this.proofs };
    const consumeProof = await checkBinding(claims, { scheme, token, proof }, req, dpop, now);
    // Synchronous while the stream is live: no promise, no network on the hot path.
    let revoked = this.revoked.has(claims.jti, claims.grant_id);
    if (!revoked && !this.live && this.o.statusList) {
      // A cached list answers without a promise; only a fetch is awaited.
      const listed = core.lists.isRevoked(claims.status, scheme);
      revoked = typeof listed === 'boolean' ? listed : await listed;
    }
    if (revoked) {
      const description = 'the access token was revoked';
      throw new VerifierError('ERR_TOKEN_REVOKED', 'invalid_token', description, { scheme });
    }
    // Last: a request refused for any other reason must not burn its proof.
    consumeProof?.();
    const verified: VerifiedToken = {
      token,
      scheme,
      claims,
      scopes: claims.scope.split(' ').filter((s) => s !== ''),
    };
    this.issued.add(verified);
    return verified;
  }

  async reportOverrun(p: OverrunReport<string | VerifiedToken>): Promise<OverrunResult> {
    const core = this.core ?? (await this.setup());
    const token = typeof p.token === 'string' ? p.token : p.token.token;
    const claims =
      typeof p.token !== 'string' && this.issued.has(p.token)
        ? p.token.claims
        : await verifyIssuedToken(core.check, token);
    // Dropped here at once, before the broker answers: the next request must not pass.
    const aud = claims.aud;
    const forUs = aud === this.audience || (Array.isArray(aud) && aud.includes(this.audience));
    if (forUs && typeof claims.jti === 'string' && typeof claims.exp === 'number') {
      this.revoked.revokeToken(claims.jti, claims.exp);
    }
    const endpoint = core.metadata.mandate_overrun_endpoint;
    if (!this.sign) {
      throw new BrokerError('ERR_NO_CLIENT', 'overrun reports need the verifier’s client option');
    }
    if (!endpoint) throw new BrokerError('ERR_DISCOVERY', 'the broker has no overrun endpoint');
    const sign = this.sign;
    const result = await postOverrun({ endpoint, fetch: this.o.fetch, sign }, { ...p, token });
    if (forUs && result.revoked.includes('grant') && typeof claims.grant_id === 'string') {
      // The event stream names the grant's true end; a week outlives any token a broker mints.
      this.revoked.revokeGrant(claims.grant_id, Math.floor(this.o.now() / 1000) + 7 * 86_400);
    }
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stream?.close();
  }

  private setup(): Promise<Core> {
    this.setupPromise ??= this.discover().catch((err: unknown) => {
      this.setupPromise = undefined;
      throw err;
    });
    return this.setupPromise;
  }

  private async discover(): Promise<Core> {
    const o = this.o;
    const core = await connectCore(o);
    if (o.events && this.sign && !this.closed) {
      const endpoint = core.metadata.mandate_revocation_events_endpoint;
      if (!endpoint) {
        throw new BrokerError('ERR_DISCOVERY', 'the broker has no revocation event stream');
      }
      const target = { endpoint, fetch: o.fetch, sign: this.sign };
      this.stream = new RevocationStream(target, this.revoked, o.onError);
      this.stream.start();
    }
    this.core = core;
    return core;
  }
}
