/**
 * An attacker's JWT workshop for the attack suite. Real signatures come from jose;
 * broken ones are assembled from base64url parts on purpose (no signature, one
 * flipped bit, an all-zero ECDSA signature, claims edited under the original
 * signature) — never from hand-rolled cryptography.
 */
import {
  base64url,
  CompactSign,
  exportJWK,
  generateKeyPair,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { expect } from 'vitest';

export type Header = Record<string, unknown> & { alg: string };
export type Claims = Record<string, unknown>;

const json = (value: unknown) => base64url.encode(JSON.stringify(value));

function partsOf(jwt: string): [string, string, string] {
  const [h = '', p = '', s = ''] = jwt.split('.');
  return [h, p, s];
}

/** A JWS signed by `key` with exactly this header; `crit` names the extensions to let through. */
export async function signed(
  key: CryptoKey | Uint8Array,
  header: Header,
  claims: Claims,
  crit: string[] = [],
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header)
    .sign(key, { crit: Object.fromEntries(crit.map((c) => [c, true])) });
}

/** RFC 7519 §6: an unsecured JWT, `alg: none`, empty signature. */
export function algNone(header: Record<string, unknown>, claims: Claims): string {
  const token = new UnsecuredJWT(claims).encode();
  const [, payload] = partsOf(token);
  return `${json({ ...header, alg: 'none' })}.${payload}.`;
}

/** The signing input with no signature at all. */
export function stripped(jwt: string): string {
  const [h, p] = partsOf(jwt);
  return `${h}.${p}.`;
}

/** The same token with one bit of its signature flipped. */
export function alteredSignature(jwt: string): string {
  const [h, p, s] = partsOf(jwt);
  const bytes = base64url.decode(s);
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x01;
  return `${h}.${p}.${base64url.encode(bytes)}`;
}

/** The original signature over edited claims. */
export function alteredClaims(jwt: string, patch: Claims): string {
  const [h, p, s] = partsOf(jwt);
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Claims;
  return `${h}.${json({ ...claims, ...patch })}.${s}`;
}

/**
 * ES256 with r = s = 0 (CVE-2022-21449, "psychic signatures"): a verifier that does
 * not check 0 < r, s < n accepts it for any message and any key.
 */
export function zeroEcdsaSignature(header: Record<string, unknown>, claims: Claims): string {
  return `${json({ ...header, alg: 'ES256' })}.${json(claims)}.${base64url.encode(new Uint8Array(64))}`;
}

/** The secrets an HS256 alg-confusion attack tries: the public key as JSON, and its raw x. */
export function publicKeySecrets(jwk: JWK): Uint8Array[] {
  const { kty, crv, x, y, n, e } = jwk;
  const secrets: Uint8Array[] = [
    new TextEncoder().encode(JSON.stringify({ kty, crv, x, y, n, e })),
  ];
  if (x) secrets.push(base64url.decode(x));
  return secrets;
}

export interface Attacker {
  privateKey: CryptoKey;
  jwk: JWK;
}

/** A key pair of the attacker's own, ES256. */
export async function attackerKey(): Promise<Attacker> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'attacker' } };
}

/** Path traversal and SQL injection spellings of `kid`. */
export const KID_PATHS = ['../../../../../../dev/null', '/etc/passwd', '..\\..\\keys\\current'];
export const KID_SQL = [
  "' OR '1'='1",
  "x' UNION SELECT jwks FROM clients --",
  "'; DROP TABLE signing_keys; --",
];

/** An OAuth error answer: exactly this status and this `error`. */
export async function expectOAuthError(
  res: Response,
  status: number,
  error: string,
): Promise<{ error: string; error_description?: string }> {
  const text = await res.text();
  expect(`${res.status} ${text}`).toMatch(new RegExp(`^${status} `));
  const body = JSON.parse(text) as { error: string; error_description?: string };
  expect(body.error, text).toBe(error);
  return body;
}
