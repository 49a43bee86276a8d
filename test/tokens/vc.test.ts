/**
 * The verifiable-credential form (`requested_token_type=urn:mandate:token-type:vc+jwt`):
 * a VCDM 2.0 credential secured as a vc+jwt (VC-JOSE-COSE), issued by the broker's
 * did:web, carrying the access token's facts and a revocation status entry. It must
 * verify with jose against the did.json keys and with an independent VC library.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { didWebFor } from '../../src/did/did-web.ts';
import type { DidDocument } from '../../src/did/document.ts';
import { mintVcToken, type AgentAuthorizationCredential } from '../../src/tokens/vc.ts';
import { FIXED_STATUS, ISSUER } from '../helpers/app.ts';
import { createWorld, REPOS, type World } from '../delegation/world.ts';
import { credoVerifier } from '../did/credo-verifier.ts';
import {
  exchange,
  exchanged,
  parentToken,
  tokenCount,
  tokenRow,
  VC_TOKEN_TYPE,
} from './exchange-world.ts';

const DID = 'did:web:localhost%3A8787';

let w: World;
let parent: { token: string; grantId: string };
beforeEach(async () => {
  w = await createWorld();
  parent = await parentToken(w);
});
afterEach(async () => w.t.close());

const credo = () => credoVerifier(async (url) => w.t.hono.request(url));

async function didDocument(): Promise<DidDocument> {
  const res = await w.t.request('/.well-known/did.json');
  expect(res.status).toBe(200);
  return (await res.json()) as DidDocument;
}

/** What any verifier does with jose alone: resolve the kid in did.json, check the JWS. */
async function verifyWithDidJson(vc: string) {
  const { kid, alg } = decodeProtectedHeader(vc);
  const doc = await didDocument();
  const method = doc.verificationMethod.find((m) => m.id === kid);
  if (!method || !alg) throw new Error(`kid ${kid} is not in did.json`);
  expect(doc.assertionMethod).toContain(kid);
  return jwtVerify(vc, await importJWK(method.publicKeyJwk, alg), {
    typ: 'vc+jwt',
    issuer: DID,
    currentDate: w.t.clock.now(),
  });
}

describe('the verifiable-credential form through token exchange', () => {
  it('issues a vc+jwt whose payload is the credential, with the access token’s facts', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
      scope: 'repo:read',
    });
    // RFC 8693 §2.2.1: a token that is not an access token has token_type N_A.
    expect(body).toMatchObject({ issued_token_type: VC_TOKEN_TYPE, token_type: 'N_A' });
    const signer = await w.t.deps.keys.signer();
    expect(decodeProtectedHeader(body.access_token)).toEqual({
      alg: signer.alg,
      kid: `${DID}#${signer.kid}`,
      typ: 'vc+jwt',
    });
    const p = decodeJwt(parent.token);
    const vc = decodeJwt(body.access_token) as unknown as AgentAuthorizationCredential;
    expect(vc).not.toHaveProperty('vc');
    expect(vc['@context'][0]).toBe('https://www.w3.org/ns/credentials/v2');
    expect(vc.type).toEqual(['VerifiableCredential', 'AgentAuthorizationCredential']);
    expect(vc.id).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(vc).toMatchObject({
      issuer: DID,
      iss: DID,
      jti: vc.id,
      sub: `urn:uuid:${p.sub}`,
      credentialSubject: {
        id: `urn:uuid:${p.sub}`,
        tenant: p.tid,
        agent: w.acme.otherAgent.clientId,
        actor: { sub: w.acme.otherAgent.clientId, act: { sub: w.acme.agent.clientId } },
        scope: 'repo:read',
        audience: REPOS,
        grant: parent.grantId,
        task: p.task,
      },
    });
    expect(Date.parse(vc.validFrom)).toBe(vc.iat * 1000);
    expect(Date.parse(vc.validUntil)).toBe(vc.exp * 1000);
    expect(vc.exp).toBeLessThanOrEqual(p.exp ?? 0);
    // The same position as recorded, published as a Bitstring Status List credential.
    const row = await tokenRow(w, vc.id);
    const listUrl = `${ISSUER}/status/${row?.statusListId}/credential`;
    expect(vc.credentialStatus).toEqual({
      id: `${listUrl}#${row?.statusIdx}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(row?.statusIdx),
      statusListCredential: listUrl,
    });
  });

  it('records the credential as kind vc, with its lineage, before returning it', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const vc = decodeJwt(body.access_token);
    const row = await tokenRow(w, vc.jti ?? '');
    expect(row).toMatchObject({
      kind: 'vc',
      parentJti: decodeJwt(parent.token).jti,
      depth: 1,
      grantId: parent.grantId,
      audience: REPOS,
    });
    expect(row.expiresAt.getTime()).toBe((vc.exp ?? 0) * 1000);
  });

  it('verifies with jose against the key did.json publishes for its kid', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const { payload } = await verifyWithDidJson(body.access_token);
    expect(payload.issuer).toBe(DID);
  });

  it('verifies with an independent VC library (@credo-ts/core, did:web resolved)', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const result = await credo().verify(body.access_token);
    expect(result.validations).toMatchObject({
      dataModel: { isValid: true },
      signature: { isValid: true },
      issuerIsSigner: { isValid: true },
    });
    expect(result.isValid).toBe(true);
  });

  it('is rejected by that library when tampered with or signed by a key did.json lacks', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const [h, p, s] = body.access_token.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const widened = Buffer.from(
      JSON.stringify({ ...claims, credentialSubject: { scope: 'repo:admin' } }),
    ).toString('base64url');
    expect((await credo().verify(`${h}.${widened}.${s}`)).isValid).toBe(false);

    // A key the broker never published: the kid resolves to nothing.
    const { generateSigningKey } = await import('../../src/keys/generate.ts');
    const rogue = await generateSigningKey('EdDSA');
    const key = await importJWK(rogue.privateJwk, 'EdDSA');
    if (key instanceof Uint8Array) throw new Error('asymmetric key expected');
    const forged = await mintVcToken(
      { kid: rogue.kid, alg: 'EdDSA', key },
      {
        issuer: ISSUER,
        subject: '00000000-0000-4000-8000-000000000001',
        audience: REPOS,
        clientId: w.acme.otherAgent.clientId,
        scopes: ['repo:admin'],
        actor: { sub: w.acme.otherAgent.clientId },
        tenantId: w.acme.tenantId,
        grantId: parent.grantId,
        issuedAt: w.t.clock.now(),
        lifetime: 60,
        status: FIXED_STATUS,
      },
    );
    const result = await credo().verify(forged.token);
    expect(result.isValid).toBe(false);
  });

  it('is not accepted back as a subject_token: it is not an access token', async () => {
    const body = await exchanged(w, w.acme.otherAgent, parent.token, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const before = await tokenCount(w);
    const res = await exchange(w, w.acme.otherAgent, body.access_token);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect(await tokenCount(w)).toBe(before);
  });
});

describe('mintVcToken', () => {
  const input = () => ({
    issuer: 'https://broker.example/acme',
    subject: '00000000-0000-4000-8000-000000000001',
    audience: 'https://api.example/',
    clientId: 'agent_x',
    scopes: ['a:read'],
    actor: { sub: 'agent_x' },
    tenantId: '00000000-0000-4000-8000-000000000002',
    grantId: '00000000-0000-4000-8000-000000000003',
    issuedAt: new Date('2030-01-01T00:00:00Z'),
    lifetime: 300,
    status: FIXED_STATUS,
  });

  it('uses the did:web of a PUBLIC_URL with a path, and a status entry the caller allocates', async () => {
    const signer = await w.t.deps.keys.signer();
    const minted = await mintVcToken(signer, {
      ...input(),
      status: {
        listId: '3f1c0000-0000-4000-8000-000000000003',
        idx: 4097,
        uri: 'https://broker.example/acme/status/3f1c0000-0000-4000-8000-000000000003',
      },
    });
    expect(minted.credential.issuer).toBe('did:web:broker.example:acme');
    expect(decodeProtectedHeader(minted.token).kid).toBe(
      `did:web:broker.example:acme#${signer.kid}`,
    );
    expect(minted.credential.credentialStatus).toMatchObject({
      statusListIndex: '4097',
      statusListCredential:
        'https://broker.example/acme/status/3f1c0000-0000-4000-8000-000000000003/credential',
    });
    expect(minted.credential.validFrom).toBe('2030-01-01T00:00:00.000Z');
    expect(minted.credential.validUntil).toBe('2030-01-01T00:05:00.000Z');
    expect(minted.credential.credentialSubject).not.toHaveProperty('task');
    expect(minted.claims).toMatchObject({ jti: minted.credential.id, exp: minted.credential.exp });
    expect(didWebFor('https://broker.example/acme').did).toBe(minted.credential.issuer);
  });

  it('refuses a lifetime that is not a positive whole number', async () => {
    const signer = await w.t.deps.keys.signer();
    await expect(mintVcToken(signer, { ...input(), lifetime: 0 })).rejects.toThrow(RangeError);
  });
});
