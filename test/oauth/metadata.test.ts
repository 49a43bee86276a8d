import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, ISSUER, type TestApp } from '../helpers/app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => t.close());

describe('discovery and health endpoints', () => {
  it('publishes RFC 8414 metadata whose issuer is exactly the configured URL', async () => {
    const res = await t.request('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      token_endpoint: `${ISSUER}/oauth/token`,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      // Other grants (token exchange) join by configuration; these two are always there.
      grant_types_supported: expect.arrayContaining([
        'urn:openid:params:grant-type:ciba',
        'refresh_token',
      ]) as unknown,
      backchannel_authentication_endpoint: `${ISSUER}/oauth/backchannel`,
      backchannel_token_delivery_modes_supported: ['poll'],
      backchannel_user_code_parameter_supported: false,
      authorization_details_types_supported: ['agent_task'],
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: ['private_key_jwt'],
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
    });
    // RFC 9449 §5.1: asymmetric algorithms only, the same set as client assertions.
    expect(meta.dpop_signing_alg_values_supported).toEqual([
      'EdDSA',
      'Ed25519',
      'ES256',
      'ES384',
      'PS256',
      'RS256',
    ]);
    for (const endpoint of ['token', 'introspection', 'revocation']) {
      const algs = meta[`${endpoint}_endpoint_auth_signing_alg_values_supported`];
      expect(algs, endpoint).toContain('EdDSA');
      expect(algs, endpoint).not.toContain('HS256');
      expect(algs, endpoint).not.toContain('none');
    }
  });

  it('lists sub-agent token exchange and the verifiable-credential form (Mandate extensions)', async () => {
    const meta = (await (
      await t.request('/.well-known/oauth-authorization-server')
    ).json()) as Record<string, unknown>;
    expect(meta.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(meta).toMatchObject({
      mandate_requested_token_types_supported: [
        'urn:ietf:params:oauth:token-type:access_token',
        'urn:mandate:token-type:vc+jwt',
      ],
      mandate_vc_issuer: 'did:web:localhost%3A8787',
    });
  });

  it('advertises only endpoints that exist: each POST endpoint asks for client authentication', async () => {
    const meta = (await (
      await t.request('/.well-known/oauth-authorization-server')
    ).json()) as Record<string, string>;
    for (const key of [
      'token_endpoint',
      'backchannel_authentication_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
    ]) {
      const path = (meta[key] ?? '').slice(ISSUER.length);
      const res = await t.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(res.status, key).toBe(401);
    }
  });

  it('derives every URL from PUBLIC_URL, without a trailing slash', async () => {
    const other = await createTestApp({ PUBLIC_URL: 'https://broker.example/tenant-x/' });
    try {
      const meta = (await (
        await other.request('/.well-known/oauth-authorization-server')
      ).json()) as Record<string, string>;
      expect(meta.issuer).toBe('https://broker.example/tenant-x');
      expect(meta.jwks_uri).toBe('https://broker.example/tenant-x/.well-known/jwks.json');
    } finally {
      await other.close();
    }
  });

  it('serves a cacheable JWKS that verifies what the broker signs', async () => {
    const res = await t.request('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(res.headers.get('content-type')).toContain('application/jwk-set+json');
    const jwks = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBe(2);
    for (const key of jwks.keys) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        expect(key).not.toHaveProperty(secret);
    }
    const signer = await t.deps.keys.signer();
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid })
      .sign(signer.key);
    await expect(jwtVerify(jwt, createLocalJWKSet(jwks as never))).resolves.toBeTruthy();
  });

  it('answers /healthz and /readyz', async () => {
    expect((await t.request('/healthz')).status).toBe(200);
    const ready = await t.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', keys: 'ok' } });
  });

  it('reports not ready once the database is gone', async () => {
    const other = await createTestApp();
    await other.close();
    const res = await other.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: 'not_ready',
      checks: { database: 'failing' },
    });
  });

  it('answers unknown paths with a JSON 404, never a stack trace', async () => {
    const res = await t.request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', error_description: 'no such endpoint' });
  });
});
