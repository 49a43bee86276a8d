/**
 * Stateless DPoP nonces (RFC 9449 §8, src/oauth/dpop-nonce.ts): accepted for one
 * to two windows, shared by every instance holding the same KEK, and worthless
 * under any other key.
 */
import { describe, expect, it } from 'vitest';
import { generateKek, parseKek } from '../../src/keys/kek.ts';
import { DpopNonces } from '../../src/oauth/dpop-nonce.ts';
import { TestClock } from '../helpers/clock.ts';

const WINDOW = 120;
// The start of a window, so that advancing by whole windows lands where the test says.
const clockAtWindowStart = () =>
  new TestClock(Math.ceil(Date.now() / 1000 / WINDOW) * WINDOW * 1000);

describe('DPoP nonces', () => {
  it('accepts a nonce for the rest of its window and the next one, not after', async () => {
    const clock = clockAtWindowStart();
    const nonces = new DpopNonces({ secret: parseKek(generateKek()), window: WINDOW, clock });
    const nonce = await nonces.issue();
    expect(await nonces.accepts(nonce)).toBe(true);
    clock.advance(2 * WINDOW - 1);
    expect(await nonces.accepts(nonce)).toBe(true);
    clock.advance(1);
    expect(await nonces.accepts(nonce)).toBe(false);
  });

  it('rotates: a new window issues a new nonce', async () => {
    const clock = clockAtWindowStart();
    const nonces = new DpopNonces({ secret: undefined, window: WINDOW, clock });
    const first = await nonces.issue();
    expect(await nonces.issue()).toBe(first);
    clock.advance(WINDOW);
    expect(await nonces.issue()).not.toBe(first);
  });

  it('is accepted by another instance with the same KEK, and by none with another key', async () => {
    const clock = clockAtWindowStart();
    const kek = parseKek(generateKek());
    const nonce = await new DpopNonces({ secret: kek, window: WINDOW, clock }).issue();
    expect(await new DpopNonces({ secret: kek, window: WINDOW, clock }).accepts(nonce)).toBe(true);
    const other = new DpopNonces({ secret: parseKek(generateKek()), window: WINDOW, clock });
    expect(await other.accepts(nonce)).toBe(false);
    const random = new DpopNonces({ secret: undefined, window: WINDOW, clock });
    expect(await random.accepts(nonce)).toBe(false);
  });

  it('refuses anything that is not a nonce of ours without throwing', async () => {
    const nonces = new DpopNonces({ secret: undefined, window: WINDOW, clock: new TestClock() });
    for (const junk of ['', 'x', '!'.repeat(43), 'A'.repeat(43), 'A'.repeat(44)]) {
      expect(await nonces.accepts(junk), junk).toBe(false);
    }
  });

  it('needs a positive whole window', () => {
    for (const window of [0, -1, 1.5]) {
      expect(() => new DpopNonces({ secret: undefined, window, clock: new TestClock() })).toThrow(
        RangeError,
      );
    }
  });
});
