/**
 * A verifier outside our code base: Debian's PyJWT (python3-jwt), run with
 * /usr/bin/python3 (the first python3 on the PATH may be another install without
 * Debian's modules), fetches our JWKS over HTTP and verifies an access token the
 * broker issued through its real CIBA flow: signature, alg EdDSA, typ at+jwt,
 * iss, aud and exp. It must also refuse the token for another audience.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ISSUER } from '../helpers/app.ts';
import {
  approve,
  createWorld,
  MAIL,
  poll,
  REPOS,
  startRequest,
  type World,
} from '../delegation/world.ts';

const PYTHON = process.env.DEBIAN_PYTHON ?? '/usr/bin/python3';

/** Reads the token from stdin so it never appears in a process listing. */
const VERIFY = `
import json, sys, jwt
url, issuer, audience = sys.argv[1:4]
token = sys.stdin.read().strip()
header = jwt.get_unverified_header(token)
if header.get("typ") != "at+jwt":
    raise SystemExit("typ is %r, not at+jwt" % header.get("typ"))
key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience=audience, issuer=issuer,
                    options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
print(json.dumps({"alg": header["alg"], "kid": header["kid"], "claims": claims}))
`;

function pyjwt(
  token: string,
  jwksUrl: string,
  audience: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      PYTHON,
      ['-c', VERIFY, jwksUrl, ISSUER, audience],
      { timeout: 30_000 },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(token);
  });
}

let w: World;
let server: ServerType;
let jwksUrl: string;

beforeEach(async () => {
  w = await createWorld();
  // The app in-process, also on a real port, so that PyJWT fetches the JWKS over HTTP.
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: w.t.hono.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await w.t.close();
});

describe('an access token verified by Debian’s PyJWT', () => {
  it('verifies signature, typ, iss, aud and exp, and refuses another audience', async () => {
    const { auth_req_id, requestId } = await startRequest(w);
    await approve(w, requestId);
    const res = await poll(w, auth_req_id, w.acme.agent, { resource: REPOS });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };

    const ok = await pyjwt(access_token, jwksUrl, REPOS);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const out = JSON.parse(ok.stdout) as {
      alg: string;
      kid: string;
      claims: Record<string, unknown>;
    };
    expect(out.alg).toBe('EdDSA');
    expect(out.kid).toBe((await w.t.deps.keys.signer()).kid);
    expect(out.claims).toMatchObject({
      iss: ISSUER,
      aud: REPOS,
      sub: w.acme.userId,
      client_id: w.acme.agent.clientId,
      tid: w.acme.tenantId,
    });

    const wrongAudience = await pyjwt(access_token, jwksUrl, MAIL);
    expect(wrongAudience.code).not.toBe(0);
    expect(wrongAudience.stderr).toMatch(/InvalidAudienceError|Invalid audience/);
  });
});
