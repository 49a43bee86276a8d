/**
 * Deleting what has expired: replay caches, challenges, sessions, revocation events
 * nobody can still need, and rate-limit windows. The Node entry runs it on a timer, the
 * Worker from its cron trigger; any number of processes may run it at once.
 */
import type { Deps } from './deps.ts';
import type { ClientAuthenticator } from './oauth/client-auth.ts';
import { pruneDpopProofJtis } from './oauth/dpop.ts';
import { pruneChallenges } from './passkeys/challenge-store.ts';
import { pruneSessions } from './passkeys/session.ts';
import { pruneRateLimits } from './ratelimit/database-limiter.ts';
import { pruneRevocationEvents } from './revocation/feed.ts';

export async function pruneExpired(
  deps: Pick<Deps, 'database' | 'clock' | 'config'>,
  clientAuth: Pick<ClientAuthenticator, 'pruneSeenAssertions'>,
): Promise<void> {
  const { db } = deps.database;
  const now = deps.clock.now();
  await Promise.all([
    clientAuth.pruneSeenAssertions(),
    pruneChallenges(db, now),
    pruneSessions(db, now),
    pruneDpopProofJtis(db, now),
    pruneRevocationEvents(db, now),
    pruneRateLimits(db, now, deps.config.rateLimitWindow),
  ]);
}
