/**
 * The challenge store: a challenge answers one ceremony (its purpose), once,
 * before it expires; expired ones are pruned.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { webauthnChallenges } from '../../src/db/schema.ts';
import {
  consumeChallenge,
  issueChallenge,
  pruneChallenges,
} from '../../src/passkeys/challenge-store.ts';
import { randomToken } from '../../src/random.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp | undefined;
afterEach(async () => t?.close());

async function issued(t: TestApp, purpose: 'authentication' | 'approval' = 'authentication') {
  const challenge = randomToken(32);
  await issueChallenge(t.owner, {
    purpose,
    challenge,
    context: { why: 'test' },
    now: t.clock.now(),
    ttl: 60,
  });
  return challenge;
}

describe('WebAuthn challenges', () => {
  it('are consumed once, returning what was stored', async () => {
    t = await createTestApp();
    const db = t.owner;
    const challenge = await issued(t);
    const now = t.clock.now();
    const row = await consumeChallenge(db, { challenge, purpose: 'authentication', now });
    expect(row).toMatchObject({ challenge, purpose: 'authentication', context: { why: 'test' } });
    expect(await consumeChallenge(db, { challenge, purpose: 'authentication', now })).toBe(
      undefined,
    );
  });

  it('answer only the ceremony they were issued for', async () => {
    t = await createTestApp();
    const db = t.owner;
    const challenge = await issued(t, 'approval');
    const now = t.clock.now();
    expect(await consumeChallenge(db, { challenge, purpose: 'authentication', now })).toBe(
      undefined,
    );
    expect(await consumeChallenge(db, { challenge, purpose: 'approval', now })).toBeDefined();
  });

  it('expire, and are pruned once expired', async () => {
    t = await createTestApp();
    const db = t.owner;
    const old = await issued(t);
    t.clock.advance(60);
    const fresh = await issued(t);
    expect(
      await consumeChallenge(db, { challenge: old, purpose: 'authentication', now: t.clock.now() }),
    ).toBe(undefined);
    await pruneChallenges(db, t.clock.now());
    const left = await db.select().from(webauthnChallenges);
    expect(left.map((r) => r.challenge)).toEqual([fresh]);
  });
});
