/**
 * The calls APIs make to close the loop — overrun reports, status lists, the
 * revocation event stream — and readers for what comes back, on top of the task
 * world (a redeemed grant for Ada's release bot on REPOS and MAIL).
 */
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { eq } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { issuedTokens } from '../../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { post } from '../delegation/world.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import { clientAssertion, type TestClient } from '../helpers/clients.ts';
import type { World } from '../delegation/world.ts';

export const OVERRUN = '/oauth/overrun';
export const EVENTS = '/oauth/revocation-events';

export const report = (
  w: World,
  api: TestClient,
  params: Record<string, string>,
): Promise<Response> => post(w.t, OVERRUN, api, params);

export interface StatusRef {
  idx: number;
  uri: string;
}

export function statusOf(token: string): StatusRef {
  const claims = decodeJwt(token) as { status?: { status_list: StatusRef } };
  if (!claims.status) throw new Error('token has no status claim');
  return claims.status.status_list;
}

/** GETs a token's status list, checks its signature with the published keys, and reads the bit with an independent library. */
export async function listStatus(t: TestApp, token: string): Promise<number> {
  const { idx, uri } = statusOf(token);
  const res = await t.hono.request(uri);
  if (res.status !== 200) throw new Error(`status list: ${res.status} ${await res.text()}`);
  const jwt = await res.text();
  const jwks = (await (await t.request('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  await jwtVerify(jwt, createLocalJWKSet(jwks), {
    issuer: ISSUER,
    subject: uri,
    typ: 'statuslist+jwt',
    currentDate: t.clock.now(),
  });
  return getListFromStatusListJWT(jwt).getStatus(idx);
}

export async function isRevokedInDb(t: TestApp, jti: string): Promise<boolean> {
  const [row] = await t.owner
    .select({ revokedAt: issuedTokens.revokedAt })
    .from(issuedTokens)
    .where(eq(issuedTokens.jti, jti));
  if (!row) throw new Error(`no token ${jti}`);
  return row.revokedAt !== null;
}

/** An open event stream: messages as they arrive, and a way to wait for one. */
export interface EventStream {
  status: number;
  messages: EventSourceMessage[];
  next(
    predicate: (m: EventSourceMessage) => boolean,
    timeoutMs?: number,
  ): Promise<EventSourceMessage>;
  close(): void;
}

/** Opens the SSE stream as `api` (GET, assertion in the query) through `fetcher`. */
export async function openEvents(
  fetcher: (url: string, init: RequestInit) => Promise<Response>,
  api: TestClient,
  options: { lastEventId?: string; now?: Date; issuer?: string } = {},
): Promise<EventStream> {
  const issuer = options.issuer ?? ISSUER;
  const query = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(api, issuer, { now: options.now ?? new Date() }),
  });
  const controller = new AbortController();
  const res = await fetcher(`${issuer}${EVENTS}?${query.toString()}`, {
    signal: controller.signal,
    headers: options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId },
  });
  const messages: EventSourceMessage[] = [];
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent: (m) => {
      messages.push(m);
      for (const wake of waiters) wake();
    },
  });
  if (res.ok && res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          parser.feed(value);
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  return {
    status: res.status,
    messages,
    next: (predicate, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(messages)}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => controller.abort(),
  };
}

/** The `data` of a revocation event, parsed. */
export const dataOf = (m: EventSourceMessage) => JSON.parse(m.data) as Record<string, unknown>;
