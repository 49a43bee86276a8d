/**
 * The broker's did:web: the identifier derived from PUBLIC_URL and the document
 * served where did:web resolution looks for it, listing every published key.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { didWebFor } from '../../src/did/did-web.ts';
import type { DidDocument } from '../../src/did/document.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { didWebDocumentUrl } from './credo-verifier.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => t.close());

describe('didWebFor', () => {
  it('percent-encodes the port and maps a path to colon-separated segments', () => {
    expect(didWebFor('http://localhost:8787')).toEqual({
      did: 'did:web:localhost%3A8787',
      documentPath: '/.well-known/did.json',
    });
    expect(didWebFor('https://broker.example')).toEqual({
      did: 'did:web:broker.example',
      documentPath: '/.well-known/did.json',
    });
    expect(didWebFor('https://broker.example/tenant-x')).toEqual({
      did: 'did:web:broker.example:tenant-x',
      documentPath: '/did.json',
    });
  });

  it('round-trips through did:web resolution to the URL the broker serves', () => {
    for (const url of ['https://localhost:8787', 'https://broker.example/a/b']) {
      const { did, documentPath } = didWebFor(url);
      expect(didWebDocumentUrl(did)).toBe(`${url}${documentPath}`);
    }
  });
});

describe('GET /.well-known/did.json', () => {
  it('serves the did:web document with every published signing key as an assertionMethod', async () => {
    const res = await t.request('/.well-known/did.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/did+json');
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const doc = (await res.json()) as DidDocument;
    const did = 'did:web:localhost%3A8787';
    expect(doc.id).toBe(did);
    expect(doc['@context'][0]).toBe('https://www.w3.org/ns/did/v1');
    const jwks = await t.deps.keys.jwks();
    expect(doc.verificationMethod.map((m) => m.id)).toEqual(
      jwks.keys.map((k) => `${did}#${k.kid}`),
    );
    expect(doc.assertionMethod).toEqual(doc.verificationMethod.map((m) => m.id));
    for (const method of doc.verificationMethod) {
      expect(method).toMatchObject({ type: 'JsonWebKey2020', controller: did });
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        expect(method.publicKeyJwk).not.toHaveProperty(secret);
      }
    }
  });

  it('follows key rotation: a new next key appears, the retired one stays while it covers tokens', async () => {
    const before = await t.deps.keys.jwks();
    await t.deps.keys.rotate();
    const doc = (await (await t.request('/.well-known/did.json')).json()) as DidDocument;
    const kids = doc.verificationMethod.map((m) => m.id.split('#')[1]);
    for (const k of before.keys) expect(kids).toContain(k.kid);
    expect(kids).toHaveLength(3);
  });

  it('moves to /did.json when PUBLIC_URL has a path, as did:web resolution expects', async () => {
    const other = await createTestApp({ PUBLIC_URL: 'https://broker.example/tenant-x' });
    try {
      const res = await other.request('/did.json');
      expect(res.status).toBe(200);
      expect(((await res.json()) as DidDocument).id).toBe('did:web:broker.example:tenant-x');
      expect((await other.request('/.well-known/did.json')).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});
