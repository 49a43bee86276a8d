/**
 * Client authentication with private_key_jwt (RFC 7523 §2.2, §3; OpenID Connect
 * Core §9). Agents and backend APIs both use it; there are no shared secrets.
 *
 * Every failure is `invalid_client` with the same words: an attacker learns
 * nothing about which check failed. The reason is kept as the error's cause for
 * logs.
 */
import { lt } from 'drizzle-orm';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { clientById } from '../db/lookups.ts';
import { clientAssertionJtis } from '../db/schema.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { verifyClientJwt } from './client-jwt.ts';
import { invalidClient } from './errors.ts';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export { CLIENT_ASSERTION_ALGS } from './client-jwt.ts';

export interface AuthenticatedClient {
  clientId: string;
  tenantId: string;
  kind: 'agent' | 'api';
  name: string;
}

export interface ClientAuthOptions {
  db: Database;
  clock: Clock;
  issuer: string;
  /** Longest `exp - now` accepted, in seconds. */
  maxAssertionTtl: number;
  clockSkew: number;
  /** Fetch used for `jwks_uri` clients (injected so tests need no network). */
  fetch?: typeof fetch;
}

/** The request parameters client authentication reads (form fields and one header). */
export interface ClientAuthInput {
  clientId?: string | undefined;
  clientAssertionType?: string | undefined;
  clientAssertion?: string | undefined;
  clientSecret?: string | undefined;
  authorizationHeader?: string | undefined;
}

class AuthFailure extends Error {}

export class ClientAuthenticator {
  /** Remote key sets are cached per client so jose can keep its cooldown and cache. */
  private readonly remoteSets = new Map<string, { uri: string; getKey: JWTVerifyGetKey }>();

  constructor(private readonly options: ClientAuthOptions) {}

  /**
   * Authenticates the caller of `endpoint` (its absolute URL). Accepted audiences:
   * the issuer and the endpoint itself.
   */
  async authenticate(input: ClientAuthInput, endpoint: string): Promise<AuthenticatedClient> {
    try {
      return await this.verify(input, endpoint);
    } catch (cause) {
      // A database out of reach says nothing about the client: answering invalid_client
      // would tell a well-configured agent its credentials are wrong (respond.ts makes it 503).
      if (isDatabaseUnavailable(cause)) throw cause;
      throw invalidClient(cause);
    }
  }

  /** Deletes remembered assertion ids whose assertions have expired. */
  async pruneSeenAssertions(): Promise<void> {
    await this.options.db
      .delete(clientAssertionJtis)
      .where(lt(clientAssertionJtis.expiresAt, this.options.clock.now()));
  }

  private async verify(input: ClientAuthInput, endpoint: string): Promise<AuthenticatedClient> {
    if (input.authorizationHeader || input.clientSecret !== undefined) {
      throw new AuthFailure('only private_key_jwt is accepted');
    }
    if (input.clientAssertionType !== CLIENT_ASSERTION_TYPE || !input.clientAssertion) {
      throw new AuthFailure('missing or unsupported client assertion');
    }
    const assertion = input.clientAssertion;
    // The unverified `iss` only selects which registered keys to verify against.
    const claimedId = decodeJwt(assertion).iss;
    if (typeof claimedId !== 'string' || claimedId.length === 0 || claimedId.length > 200) {
      throw new AuthFailure('assertion has no usable iss');
    }
    if (input.clientId !== undefined && input.clientId !== claimedId) {
      throw new AuthFailure('client_id does not match the assertion');
    }
    const client = await clientById(this.options.db, claimedId);
    if (!client || client.status !== 'active') throw new AuthFailure('unknown or disabled client');

    const { jti, exp } = await verifyClientJwt(assertion, this.keysFor(client), {
      clientId: client.id,
      audiences: [this.options.issuer, endpoint],
      now: this.options.clock.now(),
      clockSkew: this.options.clockSkew,
      maxTtl: this.options.maxAssertionTtl,
    });
    // Only after the signature holds do we store anything: strangers cannot fill the table.
    const stored = await this.options.db
      .insert(clientAssertionJtis)
      .values({
        clientId: client.id,
        jti,
        expiresAt: new Date((exp + this.options.clockSkew) * 1000),
      })
      .onConflictDoNothing()
      .returning({ jti: clientAssertionJtis.jti });
    if (stored.length === 0) throw new AuthFailure('assertion replayed');

    return { clientId: client.id, tenantId: client.tenantId, kind: client.kind, name: client.name };
  }

  private keysFor(client: {
    id: string;
    jwks: JSONWebKeySet | null;
    jwksUri: string | null;
  }): JWTVerifyGetKey {
    if (client.jwks) return createLocalJWKSet(client.jwks);
    if (!client.jwksUri) throw new AuthFailure('client has no keys');
    const cached = this.remoteSets.get(client.id);
    if (cached?.uri === client.jwksUri) return cached.getKey;
    const getKey = createRemoteJWKSet(new URL(client.jwksUri), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      ...(this.options.fetch ? { [customFetch]: this.options.fetch } : {}),
    });
    this.remoteSets.set(client.id, { uri: client.jwksUri, getKey });
    return getKey;
  }
}
