/** Test fixtures: a tenant and a registered client with a fresh key pair. */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Database } from '../../src/db/database.ts';
import { clients, tenants } from '../../src/db/schema.ts';
import { randomId, randomToken } from '../../src/random.ts';

export interface TestClient {
  clientId: string;
  tenantId: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function seedTenant(db: Database, slug = `t-${randomToken(4).toLowerCase()}`) {
  const [row] = await db.insert(tenants).values({ slug }).returning();
  if (!row) throw new Error('tenant insert returned nothing');
  return row;
}

export async function seedClient(
  db: Database,
  tenantId: string,
  kind: 'agent' | 'api' = 'agent',
  alg: 'EdDSA' | 'ES256' = 'EdDSA',
): Promise<TestClient> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), alg, kid: randomToken(8) };
  const clientId = randomId(kind);
  await db.insert(clients).values({
    id: clientId,
    tenantId,
    kind,
    name: clientId,
    jwks: { keys: [publicJwk] },
  });
  return { clientId, tenantId, privateKey, publicJwk };
}

export interface AssertionOptions {
  audience?: string;
  expiresIn?: number;
  jti?: string;
  iss?: string;
  sub?: string;
  iatOffset?: number;
  now?: Date;
}

/** An RFC 7523 client assertion, correct unless options say otherwise. */
export async function clientAssertion(
  client: TestClient,
  audience: string,
  options: AssertionOptions = {},
): Promise<string> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: client.publicJwk.alg ?? 'EdDSA', kid: client.publicJwk.kid })
    .setIssuer(options.iss ?? client.clientId)
    .setSubject(options.sub ?? client.clientId)
    .setAudience(options.audience ?? audience)
    .setIssuedAt(now + (options.iatOffset ?? 0))
    .setExpirationTime(now + (options.expiresIn ?? 60))
    .setJti(options.jti ?? randomToken(16))
    .sign(client.privateKey);
}

export function form(values: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(values).toString(),
  };
}
