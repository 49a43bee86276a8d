/** Random identifiers and secrets from Web Crypto, base64url without padding. */
import { base64url } from 'jose';
import { sha256Base64url } from './audit/sha256.ts';

export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A client id with a readable prefix, e.g. `agent_3q2…`. */
export function randomId(prefix: string): string {
  return `${prefix}_${randomToken(16)}`;
}

/**
 * SHA-256 of `input`, base64url: how secrets (grant handles, session cookies, invite links)
 * are looked up. Synchronous underneath (audit/sha256.ts): Web Crypto's digest is a job
 * on another thread whose round trip cost the mint about 0.15 ms of CPU under load
 * (bench/http.ts with BENCH_PROFILE_DIR); async for the callers it has always had.
 */
export function sha256base64url(input: string): Promise<string> {
  return Promise.resolve(sha256Base64url(input));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks an id from a URL before it reaches a uuid column, where PostgreSQL would raise. */
export const isUuid = (value: string): boolean => UUID.test(value);
