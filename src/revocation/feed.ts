/**
 * Revocations as they commit, for the event streams of this process, whichever
 * process committed them: every broker LISTENs on one channel, and on each NOTIFY
 * reads the events after the last one it saw (ids grow in commit order, see
 * revoke.ts) and hands them to the streams of their tenant and audience.
 *
 * A slow poll backs the notifications up: a NOTIFY sent while the listening
 * connection was being re-established is lost.
 *
 * Where no connection can be held open (Workers, whose database has no `listen`),
 * each subscription polls for its own tenant and audience instead, from the request
 * that subscribed: a timer started by one request may not do I/O for another.
 */
import { and, asc, eq, gt, lt } from 'drizzle-orm';
import type { Database, DatabaseHandle } from '../db/database.ts';
import { lastRevocationEventId, revocationEventsAfter } from '../db/lookups.ts';
import { forEachTenant, tenantDb } from '../db/tenancy.ts';
import { revocationEvents } from '../db/schema.ts';
import { REVOCATION_CHANNEL } from './revoke.ts';

export interface RevocationEvent {
  id: number;
  tenantId: string;
  audience: string;
  kind: 'token' | 'grant';
  subject: string;
  expiresAt: Date;
}

type Listener = (event: RevocationEvent) => void;

interface Subscription {
  tenantId: string;
  audience: string;
  listener: Listener;
}

/** Events read per query while catching up. */
const PAGE = 1000;

export class RevocationFeed {
  private lastId = 0;
  private readonly subscriptions = new Set<Subscription>();
  private starting: Promise<void> | undefined;
  private draining: Promise<void> | undefined;
  private dirty = false;
  private unlisten: (() => Promise<void>) | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Per-subscription polls, where the database cannot listen. */
  private readonly polls = new Set<ReturnType<typeof setInterval>>();
  private closed = false;

  constructor(
    private readonly database: DatabaseHandle,
    private readonly log: (message: string) => void,
    /** Backstop poll period, milliseconds. */
    private readonly pollMs = 2000,
  ) {}

  /**
   * Listens for the tenant's events for one audience from now on. Resolves once the
   * feed is live, so that a replay read afterwards overlaps what the listener gets.
   */
  async subscribe(tenantId: string, audience: string, listener: Listener): Promise<() => void> {
    if (!this.database.listen) return this.poll(tenantId, audience, listener);
    const subscription = { tenantId, audience, listener };
    this.subscriptions.add(subscription);
    await (this.starting ??= this.start());
    return () => this.subscriptions.delete(subscription);
  }

  /** Events of one stream after `afterId`, or all that still matter (not yet expired). */
  async replay(
    tenantId: string,
    audience: string,
    from: { afterId: number } | { liveAt: Date },
  ): Promise<RevocationEvent[]> {
    const rows = await tenantDb(this.database.db, tenantId)
      .select()
      .from(revocationEvents)
      .where(
        and(
          eq(revocationEvents.tenantId, tenantId),
          eq(revocationEvents.audience, audience),
          'afterId' in from
            ? gt(revocationEvents.id, from.afterId)
            : gt(revocationEvents.expiresAt, from.liveAt),
        ),
      )
      .orderBy(asc(revocationEvents.id));
    return rows.map(toEvent);
  }

  /** Something committed (or may have): read what is new, once at a time. */
  poke(): void {
    if (this.closed) return;
    if (this.draining) {
      this.dirty = true;
      return;
    }
    this.draining = this.drain()
      .catch((err: unknown) => this.log(`revocation feed: ${String(err)}`))
      .finally(() => {
        this.draining = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.poke();
        }
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const poll of this.polls) clearInterval(poll);
    this.polls.clear();
    this.subscriptions.clear();
    await this.draining;
    await this.unlisten?.().catch(() => {});
  }

  /** One subscription's own poll, every `pollMs`, for a database that cannot listen. */
  private async poll(tenantId: string, audience: string, listener: Listener): Promise<() => void> {
    let lastId = await lastRevocationEventId(this.database.db);
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.replay(tenantId, audience, { afterId: lastId })
        .then((events) => {
          for (const event of events) {
            lastId = event.id;
            listener(event);
          }
        })
        .catch((err: unknown) => this.log(`revocation feed: ${String(err)}`))
        .finally(() => (busy = false));
    }, this.pollMs);
    this.polls.add(timer);
    return () => {
      clearInterval(timer);
      this.polls.delete(timer);
    };
  }

  private async start(): Promise<void> {
    const { db } = this.database;
    this.lastId = await lastRevocationEventId(db);
    if (this.database.listen) {
      this.unlisten = await this.database.listen(
        REVOCATION_CHANNEL,
        () => this.poke(),
        () => this.poke(),
      );
    }
    this.timer = setInterval(() => this.poke(), this.pollMs);
    // Node: the backstop alone must not keep a process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async drain(): Promise<void> {
    if (this.subscriptions.size === 0 && this.starting === undefined) return;
    for (;;) {
      const rows = await revocationEventsAfter(this.database.db, this.lastId, PAGE);
      for (const event of rows) {
        this.lastId = event.id;
        for (const s of this.subscriptions) {
          if (s.tenantId === event.tenantId && s.audience === event.audience) s.listener(event);
        }
      }
      if (rows.length < PAGE) return;
    }
  }
}

/**
 * Drops events about things that are dead anyway (every token they concern has
 * expired): a stream resuming from an older id has nothing left to learn from them.
 */
export async function pruneRevocationEvents(db: Database, now: Date): Promise<void> {
  await forEachTenant(db, async (scoped) => {
    await scoped.delete(revocationEvents).where(lt(revocationEvents.expiresAt, now));
  });
}

function toEvent(row: typeof revocationEvents.$inferSelect): RevocationEvent {
  return {
    id: row.id,
    tenantId: row.tenantId,
    audience: row.audience,
    kind: row.kind,
    subject: row.subject,
    expiresAt: row.expiresAt,
  };
}
