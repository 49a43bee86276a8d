/**
 * The agent's keys: what is published for registration, what is kept private, and the
 * key file on disk (mode 0600, refused when others could read it).
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  exportPrivateJwk,
  generateAgentKey,
  importAgentKey,
  loadKeyFile,
  MandateAgentError,
  publicJwks,
  saveKeyFile,
  signActorToken,
} from '../../src/sdk/agent.ts';
import { validatePublicJwks } from '../../src/registry/jwks.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mandate-agent-keys-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('agent keys', () => {
  it('publishes only the public half, with its thumbprint as kid, in a set the broker accepts', async () => {
    const key = await generateAgentKey();
    const jwks = publicJwks(key);
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', use: 'sig', kid: key.kid });
    expect(jwk).not.toHaveProperty('d');
    expect(jwk).not.toHaveProperty('alg');
    expect(key.kid).toBe(await calculateJwkThumbprint(jwk!));
    await expect(validatePublicJwks(jwks)).resolves.toEqual(jwks);
  });

  it('makes P-256 keys too', async () => {
    const key = await generateAgentKey('ES256');
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: key.kid });
    await expect(validatePublicJwks(publicJwks(key))).resolves.toBeDefined();
  });

  it('round-trips through a private JWK and still signs what the published key verifies', async () => {
    const key = await generateAgentKey();
    const restored = await importAgentKey(await exportPrivateJwk(key));
    expect(restored.kid).toBe(key.kid);
    expect(restored.publicJwk).toEqual(key.publicJwk);
    const actor = await signActorToken(restored, 'agent_1', 'https://broker.example');
    expect(decodeProtectedHeader(actor)).toMatchObject({ alg: 'Ed25519', kid: key.kid });
    const { payload } = await jwtVerify(actor, createLocalJWKSet(publicJwks(key)), {
      issuer: 'agent_1',
      subject: 'agent_1',
      audience: 'https://broker.example',
      requiredClaims: ['exp', 'jti', 'iat'],
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(300);
  });

  it('refuses a public JWK or an unsupported key type as a private key', async () => {
    const key = await generateAgentKey();
    await expect(importAgentKey(key.publicJwk)).rejects.toMatchObject({ code: 'ERR_AGENT_KEY' });
    await expect(importAgentKey({ kty: 'oct', k: 'c2VjcmV0' })).rejects.toBeInstanceOf(
      MandateAgentError,
    );
  });
});

describe('the key file', () => {
  it('is written with mode 0600 and loads back to the same key', async () => {
    const key = await generateAgentKey();
    const path = join(dir, 'agent.key.json');
    await saveKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      d: expect.any(String) as unknown,
    });
    const loaded = await loadKeyFile(path);
    expect(loaded.kid).toBe(key.kid);
    expect(loaded.privateKey.extractable).toBe(true);
  });

  it('refuses to overwrite an existing file unless asked, and then replaces it whole', async () => {
    const path = join(dir, 'agent.key.json');
    await saveKeyFile(path, await generateAgentKey());
    const second = await generateAgentKey();
    await expect(saveKeyFile(path, second)).rejects.toMatchObject({
      code: 'ERR_AGENT_KEY',
      message: expect.stringMatching(/already exists/) as unknown,
    });
    await saveKeyFile(path, second, { overwrite: true });
    expect((await loadKeyFile(path)).kid).toBe(second.kid);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses to load a key file that others may read', async () => {
    const path = join(dir, 'agent.key.json');
    await saveKeyFile(path, await generateAgentKey());
    await chmod(path, 0o644);
    await expect(loadKeyFile(path)).rejects.toMatchObject({
      code: 'ERR_AGENT_KEY',
      message: expect.stringMatching(/mode 644.*chmod 600/) as unknown,
    });
  });

  it('says what is wrong with a missing or malformed file', async () => {
    await expect(loadKeyFile(join(dir, 'nope.json'))).rejects.toMatchObject({
      code: 'ERR_AGENT_KEY',
      message: expect.stringMatching(/cannot read/) as unknown,
    });
    const path = join(dir, 'bad.json');
    await writeFile(path, 'not json', { mode: 0o600 });
    await expect(loadKeyFile(path)).rejects.toMatchObject({
      message: expect.stringMatching(/not a JSON JWK/) as unknown,
    });
  });
});
