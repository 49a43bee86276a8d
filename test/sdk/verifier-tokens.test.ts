/**
 * The access-token rules a verifier enforces (RFC 9068 §4, RFC 8725): only the
 * broker's keys and algorithms, `typ: at+jwt`, this issuer and this API's audience,
 * within its lifetime (with leeway), every Mandate claim present, and a well-formed
 * Authorization header. Tokens come from the real token endpoint; forgeries are
 * re-signed with the broker's own key so that exactly one thing is wrong.
 */
import { base64url, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VerifierError, type Verifier } from '../../src/sdk/verifier.ts';
import { ISSUER } from '../helpers/app.ts';
import { MAIL, REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, type TaskWorld } from '../oauth/task-world.ts';
import { bearer, resigned, verifierFor } from './verifier-world.ts';

let w: TaskWorld;
let v: Verifier;
beforeEach(async () => {
  w = await createTaskWorld();
  ({ verifier: v } = verifierFor(w.t, { audience: REPOS }));
});
afterEach(async () => {
  await v.close();
  await w.t.close();
});

async function refusal(token: string | undefined, headers: Record<string, string> = {}) {
  const req = token === undefined ? { ...bearer(''), headers } : bearer(token, headers);
  const err = await v.verifyRequest(req).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof VerifierError))
    throw new Error(`expected a VerifierError, got ${String(err)}`);
  return err;
}

describe('verifier: tokens it accepts', () => {
  it('accepts a token the broker minted for this API and exposes its claims and scopes', async () => {
    const t = await v.verifyRequest(bearer(w.firstToken));
    expect(t.scheme).toBe('Bearer');
    expect(t.scopes).toEqual(['repo:read', 'repo:write']);
    expect(t.claims).toMatchObject({
      iss: ISSUER,
      aud: REPOS,
      sub: w.acme.userId,
      client_id: w.acme.agent.clientId,
      grant_id: w.grantId,
    });
  });

  it('accepts the Bearer scheme in any letter case (RFC 9110 §11.1)', async () => {
    const req = { ...bearer(''), headers: { Authorization: `bearer ${w.firstToken}` } };
    await expect(v.verifyRequest(req)).resolves.toMatchObject({ scheme: 'Bearer' });
  });

  it('accepts a token up to leeway seconds past its exp, and refuses it after', async () => {
    const { exp } = decodeJwt(w.firstToken);
    w.t.clock.advance((exp ?? 0) - Math.floor(w.t.clock.now().getTime() / 1000) + 4);
    await expect(v.verifyRequest(bearer(w.firstToken))).resolves.toBeDefined();
    w.t.clock.advance(2);
    expect(await refusal(w.firstToken)).toMatchObject({
      code: 'ERR_TOKEN_EXPIRED',
      error: 'invalid_token',
      status: 401,
    });
  });
});

describe('verifier: forged and misdirected tokens', () => {
  it('refuses HS256 signed with the broker’s public key as the secret (algorithm confusion)', async () => {
    const { keys } = await w.t.deps.keys.jwks();
    const jwk = keys[0]!;
    const secret = new TextEncoder().encode(JSON.stringify(jwk));
    const forged = await new SignJWT(decodeJwt(w.firstToken))
      .setProtectedHeader({ alg: 'HS256', kid: jwk.kid, typ: 'at+jwt' })
      .sign(secret);
    expect(await refusal(forged)).toMatchObject({ code: 'ERR_TOKEN_ALG', status: 401 });
    const raw = base64url.decode(jwk.x ?? '');
    const forgedRaw = await new SignJWT(decodeJwt(w.firstToken))
      .setProtectedHeader({ alg: 'HS256', kid: jwk.kid, typ: 'at+jwt' })
      .sign(raw);
    expect((await refusal(forgedRaw)).code).toBe('ERR_TOKEN_ALG');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
    const unsigned = `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(decodeJwt(w.firstToken))}.`;
    expect((await refusal(unsigned)).error).toBe('invalid_token');
    const withSig = `${unsigned}${w.firstToken.split('.')[2]}`;
    expect(await refusal(withSig)).toMatchObject({ code: 'ERR_TOKEN_ALG' });
  });

  it('refuses a broker-signed JWT whose typ is not at+jwt', async () => {
    const jwt = await resigned(w.t, w.firstToken, { header: { typ: 'JWT' } });
    expect(await refusal(jwt)).toMatchObject({ code: 'ERR_TOKEN_TYP' });
    const untyped = await resigned(w.t, w.firstToken, { header: { typ: undefined } });
    expect(await refusal(untyped)).toMatchObject({ code: 'ERR_TOKEN_TYP' });
  });

  it('refuses a token minted for another API of the same tenant', async () => {
    const mail = await mintOk(w, { resource: MAIL, scope: 'mail:send' });
    expect(await refusal(mail.access_token)).toMatchObject({
      code: 'ERR_TOKEN_AUDIENCE',
      error: 'invalid_token',
    });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [h, , s] = w.firstToken.split('.');
    const widened = { ...decodeJwt(w.firstToken), scope: 'repo:read repo:write repo:admin' };
    const tampered = `${h}.${base64url.encode(JSON.stringify(widened))}.${s}`;
    expect(await refusal(tampered)).toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
  });

  it('refuses a token signed by a key that is not in the broker’s JWKS', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const { keys } = await w.t.deps.keys.jwks();
    const claims = decodeJwt(w.firstToken);
    const sameKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: keys[0]!.kid, typ: 'at+jwt' })
      .sign(privateKey);
    expect(await refusal(sameKid)).toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
    const otherKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'not-the-brokers', typ: 'at+jwt' })
      .sign(privateKey);
    expect(await refusal(otherKid)).toMatchObject({ code: 'ERR_TOKEN_KEY' });
    const embedded = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect((await refusal(embedded)).error).toBe('invalid_token');
  });

  it('refuses a token from another issuer, even signed with the broker’s key', async () => {
    const jwt = await resigned(w.t, w.firstToken, { claims: { iss: 'https://evil.example' } });
    expect(await refusal(jwt)).toMatchObject({ code: 'ERR_TOKEN_ISSUER' });
  });

  it('refuses a token lacking a claim every Mandate token carries', async () => {
    for (const claim of ['client_id', 'scope', 'jti', 'sub', 'iat', 'exp']) {
      const jwt = await resigned(w.t, w.firstToken, { claims: { [claim]: undefined } });
      expect(await refusal(jwt), claim).toMatchObject({ code: 'ERR_TOKEN_CLAIM' });
    }
  });

  it('refuses a token that is not valid yet (nbf beyond leeway)', async () => {
    const nbf = Math.floor(w.t.clock.now().getTime() / 1000) + 60;
    const jwt = await resigned(w.t, w.firstToken, { claims: { nbf } });
    expect(await refusal(jwt)).toMatchObject({ code: 'ERR_TOKEN_NOT_YET_VALID' });
  });
});

describe('verifier: the Authorization header', () => {
  it('asks for credentials with a bare challenge when none are sent (RFC 6750 §3.1)', async () => {
    const err = await refusal(undefined);
    expect(err).toMatchObject({ code: 'ERR_NO_TOKEN', status: 401, wwwAuthenticate: 'Bearer' });
    const basic = await refusal(undefined, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic).toMatchObject({ code: 'ERR_NO_TOKEN', status: 401 });
  });

  it('answers 400 invalid_request to a malformed Authorization header', async () => {
    for (const value of [
      `Bearer ${w.firstToken}, Bearer ${w.firstToken}`,
      'Bearer',
      'Bearer a b',
    ]) {
      const err = await refusal(undefined, { authorization: value });
      expect(err, value).toMatchObject({
        code: 'ERR_AUTHORIZATION_MALFORMED',
        error: 'invalid_request',
        status: 400,
      });
    }
  });

  it('refuses a token with characters a compact JWS cannot hold', async () => {
    const [h, p, s] = w.firstToken.split('.');
    for (const token of [`${h}.${p}.${s}!`, `${h}.${p}!.${s}`, `${h}.${p}`, `${h}..${p}.${s}`]) {
      expect((await refusal(token)).error, token.slice(-8)).toBe('invalid_token');
    }
  });

  it('says what is wrong in an RFC 6750 challenge', async () => {
    const mail = await mintOk(w, { resource: MAIL, scope: 'mail:send' });
    const err = await refusal(mail.access_token);
    expect(err.wwwAuthenticate).toBe(
      'Bearer error="invalid_token", error_description="the access token is for another API"',
    );
  });
});
