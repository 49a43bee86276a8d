/**
 * A plan made real: its pieces turned into strings (JWTs signed with jose by the
 * world's registered keys, or a stranger's, or not at all), and the Request sent.
 */
import {
  base64url,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { ISSUER } from '../../helpers/app.ts';
import { REPOS } from '../../delegation/world.ts';
import type { JwtPlan, Piece } from './pieces.ts';
import type { Fields, Plan } from './plans.ts';
import { ALL_TARGETS } from './targets.ts';
import type { FuzzWorld } from './world.ts';

/** Keys the fuzzer signs with besides the registered clients'. */
export interface Signers {
  stranger: { privateKey: CryptoKey; publicJwk: JWK };
}

export async function createSigners(): Promise<Signers> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { stranger: { privateKey, publicJwk: { ...(await exportJWK(publicKey)), alg: 'ES256' } } };
}

const MAX_TEXT = 300_000;

/** A piece as the string it stands for. */
export async function materialise(
  piece: Piece,
  w: FuzzWorld,
  s: Signers,
  endpoint: string,
): Promise<string> {
  if ('lit' in piece) return piece.lit;
  if ('json' in piece) return JSON.stringify(piece.json) ?? 'undefined';
  if ('repeat' in piece) return piece.repeat.repeat(piece.times).slice(0, MAX_TEXT);
  if ('deep' in piece) return `${'{"a":['.repeat(piece.deep)}1${']}'.repeat(piece.deep)}`;
  if ('cut' in piece) return (await materialise(piece.cut, w, s, endpoint)).slice(0, piece.at);
  if ('poison' in piece) {
    const text = await materialise(piece.poison, w, s, endpoint);
    return `${text.slice(0, text.length >> 1)}${piece.char}${text.slice(text.length >> 1)}`;
  }
  if ('join' in piece) {
    const parts = await Promise.all(piece.join.map((p) => materialise(p, w, s, endpoint)));
    return parts.join('');
  }
  if ('jwt' in piece) return signJwt(piece.jwt, w, s, endpoint);
  switch (piece.world) {
    case 'handle':
      return w.handle;
    case 'accessToken':
      return w.accessToken;
    case 'accessTokenJti':
      return String(decodeJwt(w.accessToken).jti);
    case 'spareHandle':
      return w.spare.handle;
    case 'spareToken':
      return w.spare.firstToken;
    case 'spareTokenJti':
      return String(decodeJwt(w.spare.firstToken).jti);
    case 'firstToken':
      return w.firstToken;
    case 'authReqId':
      return w.authReqId;
    case 'pendingId':
      return w.pendingId;
    case 'grantId':
      return w.grantId;
    case 'bobGrantId':
      return w.bob.grantId;
    case 'inviteSecret':
      return w.inviteSecret;
    case 'csrf':
      return w.bob.csrf;
    case 'statusListId':
      return w.statusListId;
    case 'agentId':
      return w.acme.agent.clientId;
    case 'apiId':
      return w.acme.api.clientId;
  }
}

async function signJwt(p: JwtPlan, w: FuzzWorld, s: Signers, endpoint: string): Promise<string> {
  const now = Math.floor(w.t.clock.now().getTime() / 1000);
  const registered = typeof p.signer === 'number' ? w.clients[p.signer] : undefined;
  const subject = w.clients[p.as ?? (typeof p.signer === 'number' ? p.signer : 0)] ?? w.acme.agent;
  const times = {
    fresh: { iat: now, exp: now + 60 },
    expired: { iat: now - 600, exp: now - 300 },
    future: { iat: now + 3600, exp: now + 3660 },
    forever: { iat: now, exp: now + 10 * 365 * 86_400 },
  }[p.time];
  const aud = { issuer: ISSUER, endpoint, elsewhere: 'https://evil.example/', absent: undefined }[
    p.aud
  ];
  const jti = { fresh: crypto.randomUUID(), fixed: 'fuzz-fixed-jti', absent: undefined }[p.jti];
  let claims: JWTPayload;
  if (p.jwt === 'dpop') {
    claims = {
      jti,
      htm: p.htm ?? 'POST',
      htu: p.htu === 'elsewhere' ? 'https://evil.example/token' : endpoint,
      iat: times.iat,
    };
  } else if (p.jwt === 'access') {
    claims = {
      iss: ISSUER,
      sub: w.acme.userId,
      aud: aud ?? REPOS,
      client_id: subject.clientId,
      scope: 'repo:read',
      tid: w.acme.tenantId,
      grant_id: w.grantId,
      ...times,
      jti,
    };
  } else {
    claims = { iss: subject.clientId, sub: subject.clientId, aud, ...times, jti };
  }
  claims = { ...claims, ...p.extra };
  const key = registered ?? s.stranger;
  const alg = key.publicJwk.alg ?? 'EdDSA';
  const kid = registered?.publicJwk.kid ?? subject.publicJwk.kid;
  const typ = p.typ ?? { assertion: undefined, dpop: 'dpop+jwt', access: 'at+jwt' }[p.jwt];
  const header = {
    alg,
    ...(typ === undefined ? {} : { typ }),
    ...(p.jwt === 'dpop' ? { jwk: publicPart(key.publicJwk) } : { kid }),
  };
  if (p.signer === 'none') {
    const [, payload] = new UnsecuredJWT(claims).encode().split('.');
    return `${base64url.encode(JSON.stringify({ ...header, alg: 'none' }))}.${payload}.`;
  }
  if (p.signer === 'hs256') {
    return new SignJWT(claims)
      .setProtectedHeader({ ...header, alg: 'HS256' })
      .sign(crypto.getRandomValues(new Uint8Array(32)));
  }
  return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, ...(y === undefined ? {} : { y }) };
}

/** Lone surrogates replaced, as encodeURIComponent would otherwise throw. */
const wellFormed = (v: string) => v.replace(/[\ud800-\udfff]/gu, '\ufffd');

/** Header values must be ByteStrings without line breaks, or fetch refuses them before we send. */
const headerSafe = (v: string) => v.replace(/[^\x20-\x7e]/g, '?');

/** The plan as a request to the app, with the target it meant to reach. */
export async function requestFor(
  plan: Plan,
  w: FuzzWorld,
  s: Signers,
): Promise<{ path: string; init: RequestInit }> {
  const target = ALL_TARGETS.find((t) => t.name === plan.target);
  if (!target) throw new Error(`no target ${plan.target}`);
  const base = target.path(w);
  const endpoint = `${ISSUER}${base}`;
  const text = (p: Piece) => materialise(p, w, s, endpoint);
  const pairs = async (fields: Fields) => {
    const params = new URLSearchParams();
    for (const [k, v] of fields) params.append(k, await text(v));
    return params;
  };
  let path =
    'suffix' in plan.path
      ? `${base}${plan.path.suffix}`
      : 'replace' in plan.path
        ? `${base.slice(0, base.lastIndexOf('/') + 1)}${encodeURIComponent(wellFormed(plan.path.replace))}`
        : `${base}/${'a%2F'.repeat(plan.path.long >> 2)}`;
  if (plan.query.length > 0) path += `${path.includes('?') ? '&' : '?'}${await pairs(plan.query)}`;

  const headers = new Headers();
  if (plan.contentType !== undefined) headers.set('content-type', headerSafe(plan.contentType));
  const h = plan.headers;
  if (h.authorization !== undefined) headers.set('authorization', headerSafe(h.authorization));
  if (h.dpop !== undefined) headers.set('dpop', headerSafe(await text(h.dpop)));
  if (h.cookie === 'bob') headers.set('cookie', w.bob.cookie);
  if (h.cookie === 'garbage') headers.set('cookie', `mandate_session=${'%'.repeat(200)}; a=b`);
  if (h.csrf !== 'none') headers.set('x-csrf-token', h.csrf === 'right' ? w.bob.csrf : 'wrong');
  if (h.origin !== 'none') {
    headers.set('origin', { ours: ISSUER, evil: 'https://evil.example', null: 'null' }[h.origin]);
  }
  if (h.lastEventId !== undefined) headers.set('last-event-id', headerSafe(h.lastEventId));

  let body: BodyInit | undefined;
  const b = plan.body;
  if (b.kind === 'form') body = (await pairs(b.fields)).toString();
  else if (b.kind === 'json') {
    // Shapes name the world's invite as a placeholder (they are plain JSON).
    body = (JSON.stringify(b.value) ?? '').replaceAll('"{invite}"', JSON.stringify(w.inviteSecret));
  } else if (b.kind === 'raw') body = b.text;
  else if (b.kind === 'bytes') body = new Uint8Array(b.bytes);
  else if (b.kind === 'multipart') {
    const data = new FormData();
    for (const [k, v] of b.fields) data.append(k, v);
    body = data;
  }
  // fetch refuses a body on GET and HEAD; the plan's body then simply is not sent.
  if (plan.method === 'GET' || plan.method === 'HEAD') body = undefined;
  return { path, init: { method: plan.method, headers, ...(body === undefined ? {} : { body }) } };
}
