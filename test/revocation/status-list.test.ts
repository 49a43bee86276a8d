/**
 * Token Status List (draft-ietf-oauth-status-list): every token has a position,
 * the signed list shows its bit, revocation flips it (for the token, its grant's
 * siblings and its descendants), and lists roll over when full. Read with
 * @sd-jwt/jwt-status-list as an independent decoder; the VC form's list with
 * W3C Bitstring Status List rules.
 */
import { and, eq } from 'drizzle-orm';
import { base64url, decodeJwt, decodeProtectedHeader } from 'jose';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { issuedTokens, statusLists } from '../../src/db/schema.ts';
import { ISSUER } from '../helpers/app.ts';
import { MAIL, poll, REPOS, startRequest } from '../delegation/world.ts';
import { createTaskWorld, mintOk, revoke, type TaskWorld } from '../oauth/task-world.ts';
import { exchanged, VC_TOKEN_TYPE } from '../tokens/exchange-world.ts';
import { listStatus, report, statusOf } from './revocation-world.ts';

let w: TaskWorld;
afterEach(async () => w.t.close());

describe('status list positions', () => {
  it('gives every token its own position in its tenant’s list, matching its record', async () => {
    w = await createTaskWorld();
    const tokens = [w.firstToken];
    for (let i = 0; i < 5; i++) tokens.push((await mintOk(w, { resource: REPOS })).access_token);
    const positions = tokens.map(statusOf);
    expect(new Set(positions.map((p) => `${p.uri}#${p.idx}`)).size).toBe(tokens.length);
    for (const token of tokens) {
      const { jti } = decodeJwt(token);
      const [row] = await w.t.owner
        .select()
        .from(issuedTokens)
        .where(eq(issuedTokens.jti, jti ?? ''));
      expect(statusOf(token)).toEqual({
        idx: row?.statusIdx,
        uri: `${ISSUER}/status/${row?.statusListId}`,
      });
      const [list] = await w.t.owner
        .select()
        .from(statusLists)
        .where(eq(statusLists.id, row?.statusListId ?? ''));
      expect(list?.tenantId).toBe(w.acme.tenantId);
    }
  });

  it('does not spend positions on CIBA polls that are still pending', async () => {
    w = await createTaskWorld();
    const r = await startRequest(w);
    for (let i = 0; i < 3; i++) {
      w.t.clock.advance(10);
      expect((await poll(w, r.auth_req_id)).status).toBe(400);
    }
    const before = statusOf(w.firstToken).idx;
    const next = statusOf((await mintOk(w, { resource: REPOS })).access_token).idx;
    expect(next).toBe(before + 1);
  });

  it('rolls over to the tenant’s next list when one is full, without reusing a position', async () => {
    w = await createTaskWorld({ MANDATE_STATUS_LIST_SIZE: '8' });
    const tokens = [w.firstToken];
    for (let i = 0; i < 19; i++) tokens.push((await mintOk(w, { resource: REPOS })).access_token);
    const positions = tokens.map(statusOf);
    expect(new Set(positions.map((p) => `${p.uri}#${p.idx}`)).size).toBe(20);
    expect(positions.every((p) => p.idx >= 0 && p.idx < 8)).toBe(true);
    const lists = await w.t.owner
      .select()
      .from(statusLists)
      .where(eq(statusLists.tenantId, w.acme.tenantId))
      .orderBy(statusLists.number);
    expect(lists.map((l) => l.number)).toEqual([1, 2, 3]);
    expect(new Set(positions.map((p) => p.uri)).size).toBe(3);
    // Revocation in a rolled-over list shows in that list only.
    const last = tokens[19] ?? '';
    await revoke(w, w.acme.agent, last);
    expect(await listStatus(w.t, last)).toBe(1);
    expect(await listStatus(w.t, tokens[0] ?? '')).toBe(0);
  });
});

describe('GET /status/{id}', () => {
  it('serves a signed statuslist+jwt with ttl and caching, every bit VALID at first', async () => {
    w = await createTaskWorld({ MANDATE_STATUS_LIST_TTL: '7' });
    const { uri } = statusOf(w.firstToken);
    const res = await w.t.hono.request(uri);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
    expect(res.headers.get('cache-control')).toBe('public, max-age=7');
    const jwt = await res.text();
    const signer = await w.t.deps.keys.signer();
    expect(decodeProtectedHeader(jwt)).toEqual({
      alg: signer.alg,
      kid: signer.kid,
      typ: 'statuslist+jwt',
    });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ iss: ISSUER, sub: uri, ttl: 7 });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(14);
    expect(claims.status_list).toMatchObject({ bits: 1 });
    expect(await listStatus(w.t, w.firstToken)).toBe(0);
  });

  it('flips the bit of a revoked token, and of every sibling and descendant when the grant goes', async () => {
    w = await createTaskWorld();
    const a = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    const b = (await mintOk(w, { resource: MAIL })).access_token;
    const child = (await exchanged(w, w.acme.otherAgent, a, { scope: 'repo:read' })).access_token;
    expect(await listStatus(w.t, a)).toBe(0);

    await revoke(w, w.acme.agent, a);
    expect(await listStatus(w.t, a)).toBe(1);
    expect(await listStatus(w.t, child)).toBe(1);
    expect(await listStatus(w.t, b)).toBe(0);

    await report(w, w.acme.api, { token: w.firstToken, attempted_scope: 'repo:admin' });
    for (const token of [w.firstToken, b]) expect(await listStatus(w.t, token)).toBe(1);
  });

  it('answers 404 for an unknown or malformed list id', async () => {
    w = await createTaskWorld();
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', '1%27%20or%201=1']) {
      const res = await w.t.request(`/status/${id}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('covers a million entries in a few kilobytes', async () => {
    w = await createTaskWorld({ MANDATE_STATUS_LIST_SIZE: '1048576' });
    await revoke(w, w.acme.agent, w.firstToken);
    const jwt = await (await w.t.hono.request(statusOf(w.firstToken).uri)).text();
    const { status_list } = decodeJwt(jwt) as { status_list: { lst: string } };
    expect(jwt.length).toBeLessThan(4096);
    const raw = (await import('node:zlib')).inflateSync(base64url.decode(status_list.lst));
    expect(raw.length).toBe(1048576 / 8);
  });
});

describe('the VC form’s Bitstring Status List credential', () => {
  it('serves the same bit, most significant first, GZIP in multibase, at least 16 KiB', async () => {
    w = await createTaskWorld();
    const body = await exchanged(w, w.acme.otherAgent, w.firstToken, {
      requested_token_type: VC_TOKEN_TYPE,
    });
    const vc = decodeJwt(body.access_token) as {
      id: string;
      credentialStatus: { statusListCredential: string; statusListIndex: string };
    };
    const read = async () => {
      const res = await w.t.hono.request(vc.credentialStatus.statusListCredential);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vc+jwt');
      const list = decodeJwt(await res.text()) as {
        type: string[];
        credentialSubject: { type: string; statusPurpose: string; encodedList: string };
      };
      expect(list.type).toEqual(['VerifiableCredential', 'BitstringStatusListCredential']);
      expect(list.credentialSubject).toMatchObject({
        type: 'BitstringStatusList',
        statusPurpose: 'revocation',
      });
      const encoded = list.credentialSubject.encodedList;
      expect(encoded.startsWith('u')).toBe(true);
      const bytes = gunzipSync(base64url.decode(encoded.slice(1)));
      expect(bytes.length).toBeGreaterThanOrEqual(16 * 1024);
      const idx = Number(vc.credentialStatus.statusListIndex);
      return ((bytes[idx >> 3] ?? 0) >> (7 - (idx % 8))) & 1;
    };
    expect(await read()).toBe(0);
    await w.t.owner
      .update(issuedTokens)
      .set({ revokedAt: w.t.clock.now() })
      .where(and(eq(issuedTokens.jti, vc.id)));
    expect(await read()).toBe(1);
  });
});
