/**
 * mandate_revocation_events_endpoint: Server-Sent Events of the revocations that
 * concern the calling API (its audience, its tenant), so verifiers drop a token
 * within a second instead of polling. API authentication as everywhere (on GET the
 * client assertion rides in the query, since event streams are GETs); resume with
 * Last-Event-ID. Without one, the stream first replays every revocation that still
 * matters, then says `ready`, then goes live.
 *
 * The live subscription starts before the replay is read, and events are sent in id
 * order with anything at or below the last id sent skipped, so the seam between
 * replay and live loses nothing and repeats nothing.
 */
import { and, eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { apis } from '../db/schema.ts';
import type { Deps } from '../deps.ts';
import { clientAuthInput } from '../oauth/client-auth-input.ts';
import { OAuthError } from '../oauth/errors.ts';
import { formOf, readForm, type OAuthForm } from '../oauth/form.ts';
import type { Services } from '../services.ts';
import type { RevocationEvent } from './feed.ts';
import { tenantDb } from '../db/tenancy.ts';

export const HEARTBEAT_MS = 15_000;
const EVENT_ID = /^(0|[1-9][0-9]{0,14})$/;

/** The `data` of a `revocation` event. */
export type RevocationEventData =
  { type: 'token'; jti: string; exp: number } | { type: 'grant'; grant_id: string; exp: number };

export function wireEvent(e: RevocationEvent): RevocationEventData {
  const exp = Math.ceil(e.expiresAt.getTime() / 1000);
  return e.kind === 'token'
    ? { type: 'token', jti: e.subject, exp }
    : { type: 'grant', grant_id: e.subject, exp };
}

export function revocationEventsEndpoint(
  deps: Pick<Deps, 'database' | 'clock' | 'log'>,
  services: Pick<Services, 'clientAuth' | 'revocations'>,
  endpoint: string,
): Hono {
  const app = new Hono();
  const open = async (c: Context, form: OAuthForm) => {
    const caller = await services.clientAuth.authenticate(clientAuthInput(c, form), endpoint);
    if (caller.kind !== 'api') {
      throw new OAuthError('unauthorized_client', 'only APIs may follow revocation events', 403);
    }
    const [api] = await tenantDb(deps.database.db, caller.tenantId)
      .select({ audience: apis.audience })
      .from(apis)
      .where(and(eq(apis.clientId, caller.clientId), eq(apis.tenantId, caller.tenantId)));
    if (!api)
      throw new OAuthError('unauthorized_client', 'the caller is not a registered API', 403);
    const rawLast = c.req.header('last-event-id') ?? form.get('last_event_id');
    if (rawLast !== undefined && !EVENT_ID.test(rawLast)) {
      throw new OAuthError('invalid_request', 'Last-Event-ID must be an event id from this stream');
    }
    const last = rawLast === undefined ? undefined : Number(rawLast);
    // Hono answers HEAD with the GET route and drops the body unread: a stream opened
    // here would never see its reader go away, and its subscription would stay forever.
    if (c.req.method === 'HEAD') {
      return c.body(null, 200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
      });
    }

    const early: RevocationEvent[] = [];
    let live: ((e: RevocationEvent) => void) | undefined;
    const unsubscribe = await services.revocations.subscribe(caller.tenantId, api.audience, (e) =>
      live ? live(e) : early.push(e),
    );
    let replay: RevocationEvent[];
    try {
      replay = await services.revocations.replay(
        caller.tenantId,
        api.audience,
        last === undefined ? { liveAt: deps.clock.now() } : { afterId: last },
      );
    } catch (err) {
      unsubscribe();
      throw err;
    }

    c.header('cache-control', 'no-store');
    return streamSSE(
      c,
      async (stream) => {
        const aborted = new Promise<void>((resolve) => stream.onAbort(resolve));
        let sent = last ?? 0;
        let queue = Promise.resolve();
        const send = (e: RevocationEvent) => {
          queue = queue.then(async () => {
            if (e.id <= sent || stream.aborted) return;
            sent = e.id;
            await stream.writeSSE({
              id: String(e.id),
              event: 'revocation',
              data: JSON.stringify(wireEvent(e)),
            });
          });
          return queue;
        };
        try {
          for (const e of replay) await send(e);
          await stream.writeSSE({ event: 'ready', data: JSON.stringify({ last_event_id: sent }) });
          live = (e) => void send(e).catch(() => {});
          for (const e of early.splice(0)) live(e);
          while (!stream.aborted) {
            if (await heartbeatOrAbort(stream, aborted)) break;
          }
        } finally {
          unsubscribe();
        }
      },
      (err) => {
        unsubscribe();
        deps.log(`revocation event stream failed: ${String(err)}`);
        return Promise.resolve();
      },
    );
  };
  app.get('/', (c) => open(c, formOf(new URL(c.req.url).searchParams)));
  app.post('/', async (c) => open(c, await readForm(c)));
  return app;
}

/** Waits for the next heartbeat and writes it; true when the client went away first. */
async function heartbeatOrAbort(stream: SSEStreamingApi, aborted: Promise<void>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const beat = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEARTBEAT_MS);
  });
  const gone = await Promise.race([beat, aborted.then(() => true as const)]);
  clearTimeout(timer);
  if (gone) return true;
  await stream.write(': keep-alive\n\n');
  return false;
}
