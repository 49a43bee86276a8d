import { sql } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { SigningAlg } from '../../src/config.ts';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { signingKeys } from '../../src/db/schema.ts';
import { generateKek, parseKek } from '../../src/keys/kek.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { TestClock } from '../helpers/clock.ts';
import { freshDatabase } from '../helpers/db.ts';
import { rowsOf } from '../helpers/rows.ts';

let open: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(open.map((d) => d.close()));
  open = [];
});

async function store(alg: SigningAlg = 'EdDSA', database?: DatabaseHandle, kek?: Uint8Array) {
  const db = database ?? (await freshDatabase());
  if (!database) open.push(db);
  const clock = new TestClock();
  const keys = new KeyStore(db.db, kek ?? parseKek(generateKek()), {
    alg,
    maxTokenTtl: 3600,
    clockSkew: 30,
    rotationDays: 30,
    clock,
    cacheMs: 0,
  });
  await keys.ensure();
  return { db, clock, keys };
}

async function signAndVerify(keys: KeyStore) {
  const signer = await keys.signer();
  const jwt = await new SignJWT({ sub: 'x' })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
    .sign(signer.key);
  const { protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(await keys.jwks()));
  return { jwt, protectedHeader };
}

describe('signing keys', () => {
  it('publishes a current and a next Ed25519 key under the EdDSA alg, public parts only', async () => {
    const { keys } = await store();
    const { keys: published } = await keys.jwks();
    expect(published).toHaveLength(2);
    for (const jwk of published) {
      expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(jwk).not.toHaveProperty('d');
      expect(typeof jwk.kid).toBe('string');
    }
    const { protectedHeader } = await signAndVerify(keys);
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(protectedHeader.kid).toBe(published[0]?.kid);
  });

  it.each(['ES256', 'RS256'] as const)('can be configured to %s', async (alg) => {
    const { keys } = await store(alg);
    const { keys: published } = await keys.jwks();
    expect(published.every((k) => k.alg === alg)).toBe(true);
    expect((await signAndVerify(keys)).protectedHeader.alg).toBe(alg);
  });

  it('is idempotent: ensure twice keeps the same keys', async () => {
    const { keys } = await store();
    const before = (await keys.jwks()).keys.map((k) => k.kid);
    await keys.ensure();
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual(before);
  });

  it('rotates: next signs, the old key stays published until the longest token has expired', async () => {
    const { keys, clock } = await store();
    const [current, next] = (await keys.jwks()).keys.map((k) => k.kid);
    const oldToken = (await signAndVerify(keys)).jwt;
    const { kid } = await keys.rotate();
    expect(kid).toBe(next);
    expect((await keys.signer()).kid).toBe(next);
    const afterRotation = (await keys.jwks()).keys.map((k) => k.kid);
    expect(afterRotation).toHaveLength(3);
    expect(afterRotation).toContain(current);
    await jwtVerify(oldToken, createLocalJWKSet(await keys.jwks()));

    clock.advance(3600 + 30 - 1);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toContain(current);
    clock.advance(2);
    const later = (await keys.jwks()).keys.map((k) => k.kid);
    expect(later).not.toContain(current);
    expect(later).toHaveLength(2);
  });

  it('erases the private half of a retired key', async () => {
    const { keys, db } = await store();
    const [current] = (await keys.jwks()).keys.map((k) => k.kid);
    await keys.rotate();
    const rows = await db.db.select().from(signingKeys);
    const retired = rows.find((r) => r.kid === current);
    expect(retired?.status).toBe('retired');
    expect(retired?.privateJwe).toBeNull();
  });

  it('rotates by age only once the current key is old enough', async () => {
    const { keys, clock } = await store();
    expect(await keys.rotateIfDue()).toBeNull();
    clock.advance(29 * 86_400);
    expect(await keys.rotateIfDue()).toBeNull();
    clock.advance(86_400 + 1);
    expect(await keys.rotateIfDue()).toEqual(expect.any(String));
    expect(await keys.rotateIfDue()).toBeNull();
  });

  it('keeps one current and one next key when two instances rotate at once', async () => {
    const kek = parseKek(generateKek());
    const a = await store('EdDSA', undefined, kek);
    const b = await store('EdDSA', a.db, kek);
    await Promise.all([a.keys.rotate(), b.keys.rotate(), a.keys.rotate()]);
    const rows = await a.db.db.select().from(signingKeys);
    expect(rows.filter((r) => r.status === 'current')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'next')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'retired')).toHaveLength(3);
  });

  it('replaces an unused next key when the configured alg changes', async () => {
    const kek = parseKek(generateKek());
    const ed = await store('EdDSA', undefined, kek);
    const es = await store('ES256', ed.db, kek);
    const algs = (await es.keys.jwks()).keys.map((k) => k.alg);
    expect(algs).toEqual(['EdDSA', 'ES256']);
    await es.keys.rotate();
    expect((await es.keys.signer()).alg).toBe('ES256');
  });

  it('cannot sign with a different key-encryption key', async () => {
    const a = await store();
    const intruder = new KeyStore(a.db.db, parseKek(generateKek()), {
      alg: 'EdDSA',
      maxTokenTtl: 3600,
      clockSkew: 30,
      rotationDays: 30,
      clock: a.clock,
    });
    await expect(intruder.signer()).rejects.toThrow();
  });

  it('stores no private key byte readable in the database', async () => {
    const kekText = generateKek();
    const { keys, db } = await store('EdDSA', undefined, parseKek(kekText));
    await keys.rotate();
    const { openPrivateJwk } = await import('../../src/keys/seal.ts');
    const rows = await db.db.select().from(signingKeys);
    const secrets: string[] = [];
    for (const row of rows) {
      if (!row.privateJwe) continue;
      const jwk = await openPrivateJwk(row.privateJwe, parseKek(kekText), row.kid);
      expect(typeof jwk.d).toBe('string');
      secrets.push(jwk.d as string);
    }
    expect(secrets).toHaveLength(2);

    // Every row of every table, as text.
    const tables = rowsOf<{ table_name: string }>(
      await db.db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public'`,
      ),
    );
    let everything = '';
    for (const { table_name } of tables) {
      const rowsText = rowsOf<{ t: string }>(
        await db.db.execute(
          sql`select row_to_json(x)::text as t from ${sql.identifier(table_name)} x`,
        ),
      );
      everything += rowsText.map((r) => r.t).join('\n');
    }
    expect(everything).toContain(rows[0]?.kid ?? 'missing');
    for (const d of secrets) {
      expect(everything).not.toContain(d);
      expect(everything).not.toContain(Buffer.from(d, 'base64url').toString('hex'));
    }
    expect(everything).not.toContain(kekText);

    // On PGlite we can also read the raw files of the data directory.
    if ('client' in db) {
      const client = (db as unknown as { client: { dumpDataDir(c: 'none'): Promise<Blob> } })
        .client;
      const raw = Buffer.from(await (await client.dumpDataDir('none')).arrayBuffer());
      for (const d of secrets) {
        expect(raw.includes(Buffer.from(d))).toBe(false);
        expect(raw.includes(Buffer.from(d, 'base64url'))).toBe(false);
      }
    }
  });
});
