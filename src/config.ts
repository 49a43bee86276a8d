/**
 * The broker's configuration: every option, its default and why, in one place.
 * Only the entries (`src/node.ts`, `src/cli.ts`, later `src/worker.ts`) pass an
 * environment in; nothing else reads `process.env`.
 */
import { z } from 'zod';

export const SIGNING_ALGS = ['EdDSA', 'ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const seconds = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const envSchema = z.object({
  /** TCP port of the public listener. */
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  /** Interface to bind; loopback by default so a fresh `npm start` is not exposed. */
  HOST: z.string().min(1).default('localhost'),
  /** The issuer URL, exactly as clients see it (RFC 8414 §2). Default http://localhost:$PORT. */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** PostgreSQL connection string; when absent the broker runs on embedded PGlite. */
  DATABASE_URL: z.string().min(1).optional(),
  /**
   * Seconds the broker waits for PostgreSQL to accept a connection. While PostgreSQL is
   * down or restarting, a request that needs a connection fails within about this long
   * (503 temporarily_unavailable) instead of waiting for it to come back.
   */
  MANDATE_DB_CONNECT_TIMEOUT: seconds(5, 1, 120),
  /**
   * The role that owns the tables, used only to apply migrations; default DATABASE_URL.
   * Set it when DATABASE_URL logs in as a role that owns nothing (docs/SECURITY.md).
   */
  DATABASE_OWNER_URL: z.string().min(1).optional(),
  /** Key-encryption key for private signing keys: 32 bytes, base64url. */
  MANDATE_KEK: z.string().min(1).optional(),
  /** Where the embedded database, the generated KEK and the operator lock live. */
  MANDATE_DATA_DIR: z.string().min(1).default('./.data'),
  /** JWS algorithm of the broker's signing keys. EdDSA means Ed25519. */
  MANDATE_SIGNING_ALG: z.enum(SIGNING_ALGS).default('EdDSA'),
  /** Default access-token lifetime. */
  MANDATE_ACCESS_TOKEN_TTL: seconds(300, 10, 86_400),
  /** Ceiling on any token's lifetime; a retired key stays in JWKS this long. */
  MANDATE_ACCESS_TOKEN_MAX_TTL: seconds(3600, 10, 86_400 * 7),
  /** Automatic key rotation period in days (0 disables rotation by age). */
  MANDATE_KEY_ROTATION_DAYS: z.coerce.number().min(0).max(3650).default(30),
  /** How long an invite link stays usable. */
  MANDATE_INVITE_TTL: seconds(72 * 3600, 60, 30 * 86_400),
  /** Longest lifetime (exp - now) accepted on a client assertion (RFC 7523 §3). */
  MANDATE_CLIENT_ASSERTION_MAX_TTL: seconds(300, 10, 3600),
  /** Leeway for clock differences when checking exp, iat and nbf. */
  MANDATE_CLOCK_SKEW: seconds(30, 0, 300),
  /** How long a passkey sign-in lasts. */
  MANDATE_SESSION_TTL: seconds(8 * 3600, 300, 30 * 86_400),
  /** How long a WebAuthn challenge (registration, sign-in, approval) may be answered. */
  MANDATE_WEBAUTHN_CHALLENGE_TTL: seconds(300, 30, 3600),
  /** Default and ceiling for a CIBA request's life (the agent's requested_expiry may shorten it). */
  MANDATE_CIBA_REQUEST_TTL: seconds(600, 30, 86_400),
  /** Minimum seconds between an agent's CIBA polls (`interval`). */
  MANDATE_CIBA_INTERVAL: seconds(5, 1, 60),
  /** How long a grant lasts when the agent does not ask for less. */
  MANDATE_GRANT_TTL: seconds(86_400, 60, 365 * 86_400),
  /** The longest grant a person can approve. */
  MANDATE_GRANT_MAX_TTL: seconds(30 * 86_400, 60, 365 * 86_400),
  /** How deep sub-agent token exchanges may nest (RFC 8693 `act` chain); 0 forbids exchange. */
  MANDATE_TOKEN_EXCHANGE_MAX_DEPTH: z.coerce.number().int().min(0).max(10).default(3),
  /** How old a DPoP proof's `iat` may be (RFC 9449 §11.1). */
  MANDATE_DPOP_PROOF_MAX_AGE: seconds(120, 10, 600),
  /** Require a server-issued DPoP nonce (RFC 9449 §8) on every proof. */
  MANDATE_DPOP_REQUIRE_NONCE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /**
   * Entries per token status list (draft-ietf-oauth-status-list); a full list rolls
   * over to a new one. 2^20 (a little over a million) compresses to a few hundred bytes
   * while few entries are revoked.
   */
  MANDATE_STATUS_LIST_SIZE: z.coerce.number().int().min(8).max(16_777_216).default(1_048_576),
  /** The status list's `ttl`: how long verifiers may cache it, so revocation reaches them without events. */
  MANDATE_STATUS_LIST_TTL: seconds(60, 1, 86_400),
  /**
   * Overruns a grant may accumulate before it is revoked: at this count the grant goes
   * with the token. An attempt outside the grant revokes it at once. APIs and tenants
   * can set their own (`api add --overrun-threshold`, `tenant create --overrun-threshold`).
   */
  MANDATE_OVERRUN_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(2),
  /**
   * How often each broker process also polls for revocations of other processes, as a
   * backstop to LISTEN/NOTIFY (a notification sent while a connection was being
   * re-established is lost).
   */
  MANDATE_REVOCATION_POLL_INTERVAL: seconds(2, 1, 3600),
  /**
   * Worker threads that run policy decisions' Cedar calls beside the event loop (Node
   * only); 0 runs them on the event loop. Off by default: on 2 vCPUs a worker gained
   * nothing measurable with PostgreSQL and lost about a tenth with PGlite
   * (bench/mint.ts, docs/BENCHMARKS.md); machines with cores to spare may differ.
   */
  MANDATE_POLICY_WORKERS: z.coerce.number().int().min(0).max(64).default(0),
  /** How often each broker process chains new audit entries into their tenant's hash chain, ms. */
  MANDATE_AUDIT_CHAIN_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** How often the broker signs a checkpoint (tenant, sequence, head hash) of each chain, seconds. */
  MANDATE_AUDIT_CHECKPOINT_INTERVAL: seconds(300, 1, 86_400),
  /**
   * Length of the rate limits' fixed window, seconds. The limits below count requests
   * per window, per endpoint (CIBA backchannel authentication and token), in the
   * database, so that every broker process sharing it shares them.
   */
  MANDATE_RATE_LIMIT_WINDOW: seconds(10, 1, 3600),
  /**
   * Requests one agent (client_id, after client authentication) may make to each of
   * those endpoints per window; 0 turns the limit off. 500 per 10 s is 50 a second,
   * well above an agent minting a token per task.
   */
  MANDATE_RATE_LIMIT_AGENT: z.coerce.number().int().min(0).max(1_000_000).default(500),
  /**
   * Requests one client address may make to each of those endpoints per window,
   * counted before client authentication so that anonymous floods are throttled too;
   * 0 turns the limit off. Several agents may share an address (a host, a NAT), hence
   * more than the per-agent limit.
   */
  MANDATE_RATE_LIMIT_ADDRESS: z.coerce.number().int().min(0).max(1_000_000).default(2000),
  /**
   * How many reverse proxies, each appending its peer to X-Forwarded-For, stand in
   * front of the broker. 0 (the default) ignores the header, which any client can
   * forge, and takes the socket's peer; behind one proxy set 1, or every client
   * shares the proxy's address and its limit.
   */
  MANDATE_TRUSTED_PROXIES: z.coerce.number().int().min(0).max(10).default(0),
  /** Largest request body accepted by any endpoint, in bytes. */
  MANDATE_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10_000_000)
    .default(64 * 1024),
});

export interface Config {
  port: number;
  host: string;
  /** Issuer URL without a trailing slash. */
  publicUrl: string;
  databaseUrl: string | undefined;
  dbConnectTimeout: number;
  databaseOwnerUrl: string | undefined;
  kek: string | undefined;
  dataDir: string;
  signingAlg: SigningAlg;
  accessTokenTtl: number;
  accessTokenMaxTtl: number;
  keyRotationDays: number;
  inviteTtl: number;
  clientAssertionMaxTtl: number;
  clockSkew: number;
  maxBodyBytes: number;
  sessionTtl: number;
  webauthnChallengeTtl: number;
  cibaRequestTtl: number;
  cibaInterval: number;
  grantTtl: number;
  grantMaxTtl: number;
  tokenExchangeMaxDepth: number;
  dpopProofMaxAge: number;
  dpopRequireNonce: boolean;
  statusListSize: number;
  statusListTtl: number;
  overrunThreshold: number;
  revocationPollInterval: number;
  policyWorkers: number;
  auditChainIntervalMs: number;
  auditCheckpointInterval: number;
  rateLimitWindow: number;
  /** 0: no limit per agent. */
  rateLimitAgent: number;
  /** 0: no limit per client address. */
  rateLimitAddress: number;
  trustedProxies: number;
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
}

/** Parses an environment record; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const publicUrl = normaliseIssuer(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  if (e.MANDATE_GRANT_TTL > e.MANDATE_GRANT_MAX_TTL) {
    throw new ConfigError('invalid configuration: MANDATE_GRANT_TTL exceeds MANDATE_GRANT_MAX_TTL');
  }
  if (e.MANDATE_ACCESS_TOKEN_TTL > e.MANDATE_ACCESS_TOKEN_MAX_TTL) {
    throw new ConfigError(
      'invalid configuration: MANDATE_ACCESS_TOKEN_TTL exceeds MANDATE_ACCESS_TOKEN_MAX_TTL',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    dbConnectTimeout: e.MANDATE_DB_CONNECT_TIMEOUT,
    databaseOwnerUrl: e.DATABASE_OWNER_URL,
    kek: e.MANDATE_KEK,
    dataDir: e.MANDATE_DATA_DIR,
    signingAlg: e.MANDATE_SIGNING_ALG,
    accessTokenTtl: e.MANDATE_ACCESS_TOKEN_TTL,
    accessTokenMaxTtl: e.MANDATE_ACCESS_TOKEN_MAX_TTL,
    keyRotationDays: e.MANDATE_KEY_ROTATION_DAYS,
    inviteTtl: e.MANDATE_INVITE_TTL,
    clientAssertionMaxTtl: e.MANDATE_CLIENT_ASSERTION_MAX_TTL,
    clockSkew: e.MANDATE_CLOCK_SKEW,
    maxBodyBytes: e.MANDATE_MAX_BODY_BYTES,
    sessionTtl: e.MANDATE_SESSION_TTL,
    webauthnChallengeTtl: e.MANDATE_WEBAUTHN_CHALLENGE_TTL,
    cibaRequestTtl: e.MANDATE_CIBA_REQUEST_TTL,
    cibaInterval: e.MANDATE_CIBA_INTERVAL,
    grantTtl: e.MANDATE_GRANT_TTL,
    grantMaxTtl: e.MANDATE_GRANT_MAX_TTL,
    tokenExchangeMaxDepth: e.MANDATE_TOKEN_EXCHANGE_MAX_DEPTH,
    dpopProofMaxAge: e.MANDATE_DPOP_PROOF_MAX_AGE,
    dpopRequireNonce: e.MANDATE_DPOP_REQUIRE_NONCE,
    statusListSize: e.MANDATE_STATUS_LIST_SIZE,
    statusListTtl: e.MANDATE_STATUS_LIST_TTL,
    overrunThreshold: e.MANDATE_OVERRUN_THRESHOLD,
    revocationPollInterval: e.MANDATE_REVOCATION_POLL_INTERVAL,
    policyWorkers: e.MANDATE_POLICY_WORKERS,
    auditChainIntervalMs: e.MANDATE_AUDIT_CHAIN_INTERVAL_MS,
    auditCheckpointInterval: e.MANDATE_AUDIT_CHECKPOINT_INTERVAL,
    rateLimitWindow: e.MANDATE_RATE_LIMIT_WINDOW,
    rateLimitAgent: e.MANDATE_RATE_LIMIT_AGENT,
    rateLimitAddress: e.MANDATE_RATE_LIMIT_ADDRESS,
    trustedProxies: e.MANDATE_TRUSTED_PROXIES,
  };
}

/** RFC 8414 §2: the issuer has no query or fragment; we also drop a trailing slash. */
function normaliseIssuer(raw: string): string {
  const url = new URL(raw);
  if (url.search || url.hash) {
    throw new ConfigError('invalid configuration: PUBLIC_URL must not have a query or fragment');
  }
  return url.href.replace(/\/$/, '');
}
