/**
 * The sub-agent's own assertion for token exchange (RFC 8693 `actor_token`). The broker
 * holds it to a client assertion's rules (RFC 7523 §3; src/tokens/exchange.ts): signed
 * by a key the sub-agent registered, iss = sub = its client id, aud = the issuer, an
 * `exp` within a few minutes, and a `jti` it has never seen (each one is spent once).
 */
import { SignJWT } from 'jose';
import type { AgentKey } from './keys.ts';
import { signingAlg } from './keys.ts';

/** Well under the broker's default ceiling (MANDATE_CLIENT_ASSERTION_MAX_TTL, 300 s). */
const ACTOR_TOKEN_TTL = 60;

export async function signActorToken(
  key: AgentKey,
  clientId: string,
  issuer: string,
  now = new Date(),
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signingAlg(key.privateKey), kid: key.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACTOR_TOKEN_TTL)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}
