/**
 * The verifier's arithmetic, apart from any broker: status-list bits
 * (draft-ietf-oauth-status-list §4.1) and the expiring sets that hold revocations
 * and DPoP proof ids.
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ExpiringSet } from '../../src/sdk/verifier/expiring-set.ts';
import { RevocationState } from '../../src/sdk/verifier/revocations.ts';
import { inflateList, statusAt } from '../../src/sdk/verifier/status-bits.ts';

describe('status list bits', () => {
  it('reads index i from bit i mod 8 of byte i div 8, least significant bit first', async () => {
    const bytes = await inflateList(
      deflateSync(Buffer.from([0b0000_0101, 0b1000_0000])).toString('base64url'),
    );
    const list = { bits: 1 as const, bytes };
    expect([0, 1, 2, 3, 7, 8, 14, 15].map((i) => statusAt(list, i))).toEqual([
      1, 0, 1, 0, 0, 0, 0, 1,
    ]);
    expect(statusAt(list, 16)).toBeUndefined();
  });

  it('reads wider entries (2 bits) the same way', () => {
    const list = { bits: 2 as const, bytes: new Uint8Array([0b1110_0100]) };
    expect([0, 1, 2, 3].map((i) => statusAt(list, i))).toEqual([0, 1, 2, 3]);
  });

  it('refuses a list that inflates beyond any real list (a decompression bomb)', async () => {
    const bomb = deflateSync(Buffer.alloc(17 * 1024 * 1024)).toString('base64url');
    await expect(inflateList(bomb)).rejects.toThrow(RangeError);
  });
});

describe('expiring sets', () => {
  it('holds a member until its expiry and forgets it on the next sweep after', () => {
    let now = 1_000_000;
    const set = new ExpiringSet(() => now, 1000);
    set.add('a', now + 5000);
    expect(set.has('a')).toBe(true);
    now += 5000;
    expect(set.has('a')).toBe(true);
    now += 1;
    expect(set.has('a')).toBe(false);
    set.add('b', now + 10_000);
    expect(set.size).toBe(1);
  });

  it('keeps the later of two expiries and refuses a second addIfAbsent while live', () => {
    let now = 0;
    const set = new ExpiringSet(() => now);
    set.add('a', 5000);
    set.add('a', 1000);
    now = 4000;
    expect(set.has('a')).toBe(true);
    expect(set.addIfAbsent('a', 9000)).toBe(false);
    now = 6000;
    expect(set.addIfAbsent('a', 9000)).toBe(true);
  });

  it('keeps a revoked token for the leeway during which its expired copy still passes', () => {
    let now = 100_000;
    const state = new RevocationState(() => now, 5);
    expect(state.apply({ type: 'token', jti: 'j', exp: 100 })).toBe(true);
    expect(state.apply({ type: 'grant', grant_id: 'g', exp: 100 })).toBe(true);
    expect(state.apply({ type: 'token', jti: 7, exp: 100 })).toBe(false);
    expect(state.apply({ type: 'mystery', exp: 100 })).toBe(false);
    now = 105_000;
    expect(state.has('j', undefined)).toBe(true);
    expect(state.has('other', 'g')).toBe(true);
    now = 105_001;
    expect(state.has('j', 'g')).toBe(false);
  });
});
