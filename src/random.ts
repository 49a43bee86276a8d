/** Random identifiers and secrets from Web Crypto, base64url without padding. */
import { base64url } from 'jose';

export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A client id with a readable prefix, e.g. `agent_3q2…`. */
export function randomId(prefix: string): string {
  return `${prefix}_${randomToken(16)}`;
}

export async function sha256base64url(input: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input));
  return base64url.encode(new Uint8Array(digest));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks an id from a URL before it reaches a uuid column, where PostgreSQL would raise. */
export const isUuid = (value: string): boolean => UUID.test(value);
