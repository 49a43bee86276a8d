/**
 * Builds and signs status lists from the revoked rows of issued_tokens.
 *
 * Two encodings of the same bits: the IETF Token Status List (draft-ietf-oauth-
 * status-list §4.1: one bit per token, index i in bit i mod 8 of byte i div 8 counted
 * from the least significant bit, ZLIB-compressed, `statuslist+jwt`) for access
 * tokens, and the W3C Bitstring Status List v1.0 (§3.2: index 0 is the left-most,
 * most significant bit, GZIP-compressed, multibase base64url, at least 16 KiB) for
 * the VC form. Compression is the platform's CompressionStream, so this runs
 * unchanged on Workers.
 */
import { and, eq, isNotNull } from 'drizzle-orm';
import { base64url, SignJWT } from 'jose';
import type { DbOrTx } from '../db/database.ts';
import { issuedTokens, statusLists } from '../db/schema.ts';
import { didWebFor, verificationMethodId } from '../did/did-web.ts';
import type { SigningKey } from '../keys/key-store.ts';
import { CREDENTIALS_V2_CONTEXT, VC_TYP } from '../tokens/vc.ts';
import { statusListCredentialUri, statusListUri } from './status-claim.ts';

export const STATUS_LIST_TYP = 'statuslist+jwt';
export const STATUS_LIST_MEDIA_TYPE = 'application/statuslist+jwt';
/** Bitstring Status List §6.1: lists shorter than 16 KiB would tell too much about each entry. */
const BITSTRING_MIN_BYTES = 16 * 1024;

export interface StatusListRow {
  id: string;
  tenantId: string;
  capacity: number;
}

export async function findStatusList(db: DbOrTx, id: string): Promise<StatusListRow | undefined> {
  const [row] = await db
    .select({ id: statusLists.id, tenantId: statusLists.tenantId, capacity: statusLists.capacity })
    .from(statusLists)
    .where(eq(statusLists.id, id));
  return row;
}

/** The positions of the list's revoked tokens (including those revoked through their grant or parent). */
export async function revokedIndices(db: DbOrTx, listId: string): Promise<number[]> {
  const rows = await db
    .select({ idx: issuedTokens.statusIdx })
    .from(issuedTokens)
    .where(and(eq(issuedTokens.statusListId, listId), isNotNull(issuedTokens.revokedAt)));
  return rows.flatMap((r) => (r.idx === null ? [] : [r.idx]));
}

/** One bit per entry; `msbFirst` for the W3C order, least significant first for the IETF one. */
export function packBits(capacity: number, set: Iterable<number>, msbFirst = false): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(capacity / 8));
  for (const i of set) {
    if (!Number.isInteger(i) || i < 0 || i >= capacity) continue;
    const bit = i % 8;
    bytes[i >> 3]! |= msbFirst ? 0x80 >> bit : 1 << bit;
  }
  return bytes;
}

export async function compress(bytes: Uint8Array, format: 'deflate' | 'gzip'): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export interface StatusListTokenInput {
  issuer: string;
  list: StatusListRow;
  revoked: number[];
  now: Date;
  /** Seconds verifiers may cache the list. */
  ttl: number;
}

/** §5.1: the signed Status List Token. */
export async function signStatusListToken(
  signer: SigningKey,
  p: StatusListTokenInput,
): Promise<string> {
  const lst = base64url.encode(await compress(packBits(p.list.capacity, p.revoked), 'deflate'));
  const iat = Math.floor(p.now.getTime() / 1000);
  return (
    new SignJWT({
      status_list: { bits: 1, lst },
      ttl: p.ttl,
    })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: STATUS_LIST_TYP })
      .setIssuer(p.issuer)
      .setSubject(statusListUri(p.issuer, p.list.id))
      .setIssuedAt(iat)
      // Past twice the ttl a copy is stale: a verifier must not be fed an old list forever.
      .setExpirationTime(iat + 2 * p.ttl)
      .sign(signer.key)
  );
}

/** Bitstring Status List v1.0 §2.2: the same bits as a BitstringStatusListCredential, `vc+jwt`. */
export async function signBitstringStatusListCredential(
  signer: SigningKey,
  p: StatusListTokenInput,
): Promise<string> {
  const bits = Math.max(p.list.capacity, BITSTRING_MIN_BYTES * 8);
  const encodedList = `u${base64url.encode(await compress(packBits(bits, p.revoked, true), 'gzip'))}`;
  const { did } = didWebFor(p.issuer);
  const id = statusListCredentialUri(p.issuer, p.list.id);
  const iat = Math.floor(p.now.getTime() / 1000);
  const exp = iat + 2 * p.ttl;
  return new SignJWT({
    '@context': [CREDENTIALS_V2_CONTEXT],
    id,
    type: ['VerifiableCredential', 'BitstringStatusListCredential'],
    issuer: did,
    validFrom: new Date(iat * 1000).toISOString(),
    validUntil: new Date(exp * 1000).toISOString(),
    credentialSubject: {
      id: `${id}#list`,
      type: 'BitstringStatusList',
      statusPurpose: 'revocation',
      encodedList,
      // §2.2: milliseconds.
      ttl: p.ttl * 1000,
    },
    iss: did,
    jti: id,
    iat,
    exp,
  })
    .setProtectedHeader({
      alg: signer.alg,
      kid: verificationMethodId(did, signer.kid),
      typ: VC_TYP,
    })
    .sign(signer.key);
}
