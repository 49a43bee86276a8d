/**
 * The bits of a Token Status List (draft-ietf-oauth-status-list §4.1): `lst` is
 * base64url(ZLIB(DEFLATE(bytes))), `bits` per entry (1, 2, 4 or 8), and entry i
 * sits in byte (i * bits) div 8 counted from the least significant bit. Status 0 is
 * VALID; anything else (1 INVALID, 2 SUSPENDED, …) is not.
 */
import { base64url } from 'jose';

export type StatusBits = 1 | 2 | 4 | 8;

export interface DecodedStatusList {
  bits: StatusBits;
  bytes: Uint8Array;
}

/** 2^24 entries of 8 bits: far beyond any list the broker makes; refuses decompression bombs. */
const MAX_BYTES = 16 * 1024 * 1024;

export function isStatusBits(value: unknown): value is StatusBits {
  return value === 1 || value === 2 || value === 4 || value === 8;
}

/** The status value at `idx`; undefined when the list is shorter. */
export function statusAt(list: DecodedStatusList, idx: number): number | undefined {
  const bit = idx * list.bits;
  const byte = list.bytes[bit >> 3];
  if (byte === undefined) return undefined;
  return (byte >> (bit & 7)) & ((1 << list.bits) - 1);
}

/** base64url, then ZLIB inflate with the platform's DecompressionStream (Workers have it too). */
export async function inflateList(lst: string): Promise<Uint8Array> {
  const compressed = base64url.decode(lst);
  const stream = new Blob([compressed as BlobPart])
    .stream()
    .pipeThrough(new DecompressionStream('deflate'));
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BYTES) {
      await reader.cancel();
      throw new RangeError(`the status list inflates beyond ${MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
