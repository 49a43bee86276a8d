/**
 * Two broker processes on one PostgreSQL: a revocation committed through one
 * reaches an API following the other's event stream within a second, carried by
 * LISTEN/NOTIFY (the follower's backstop poll is set to an hour, so nothing else
 * could carry it in time). PostgreSQL on this machine is used whichever driver the
 * rest of the suite runs on; the test makes its own database and drops it.
 */
import { decodeJwt } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.ts';
import { withOwner } from '../helpers/db.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { ISSUER } from '../helpers/app.ts';
import { startBroker, type RunningBroker } from '../helpers/cli.ts';
import { databaseUrl } from '../helpers/pg-url.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, REVOKE, type TaskWorld } from '../oauth/task-world.ts';
import { dataOf, openEvents, OVERRUN, type EventStream } from './revocation-world.ts';
import { clientAssertion, form } from '../helpers/clients.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';

const SERVER = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `mandate_two_${process.pid}_${Date.now()}`;
const url = databaseUrl(SERVER, name);
const kek = generateKek();

let w: TaskWorld;
let writer: RunningBroker;
let follower: RunningBroker;
let stream: EventStream;

beforeAll(async () => {
  const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  // The world is seeded in-process on the same database, as a third broker would.
  w = await createTaskWorld(
    { MANDATE_KEK: kek },
    withOwner(await openPostgres({ url, max: 2 }), url),
  );
  const env = {
    DATABASE_URL: url,
    MANDATE_KEK: kek,
    PUBLIC_URL: ISSUER,
    MANDATE_REVOCATION_POLL_INTERVAL: '3600',
  };
  [writer, follower] = await Promise.all([startBroker(env), startBroker(env)]);
  stream = await openEvents((u, init) => fetch(u.replace(ISSUER, follower.url), init), w.acme.api);
  await stream.next((m) => m.event === 'ready', 10_000);
}, 90_000);

afterAll(async () => {
  stream?.close();
  await Promise.all([writer?.stop(), follower?.stop()]);
  await w?.t.close();
  const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}, 60_000);

/** POSTs to the writer process with a fresh client assertion, like post() does in-process. */
async function postToWriter(
  path: string,
  client: TaskWorld['acme']['api'],
  params: Record<string, string>,
) {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(client, ISSUER),
    ...params,
  });
  return fetch(`${writer.url}${path}`, { ...form({}), body: body.toString() });
}

async function arrivalMs(jti: string, act: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const res = await act();
  expect(res.status).toBe(200);
  await stream.next((m) => m.event === 'revocation' && dataOf(m).jti === jti, 5000);
  return performance.now() - started;
}

describe('revocation across two broker processes', () => {
  it('carries an agent’s revocation at one broker to the other broker’s stream within a second', async () => {
    for (let i = 0; i < 3; i++) {
      const token = (await mintOk(w, { resource: REPOS })).access_token;
      const jti = decodeJwt(token).jti ?? '';
      const ms = await arrivalMs(jti, () => postToWriter(REVOKE, w.acme.agent, { token }));
      expect(ms).toBeLessThan(1000);
    }
  });

  it('carries an overrun report’s revocation the same way', async () => {
    const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    const jti = decodeJwt(token).jti ?? '';
    const ms = await arrivalMs(jti, () =>
      postToWriter(OVERRUN, w.acme.api, { token, attempted_scope: 'repo:write' }),
    );
    expect(ms).toBeLessThan(1000);
  });

  it('is two processes answering from one database', async () => {
    expect(writer.process.pid).not.toBe(follower.process.pid);
    const token = (await mintOk(w, { resource: REPOS })).access_token;
    for (const broker of [writer, follower]) {
      const body = new URLSearchParams({
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await clientAssertion(w.acme.api, ISSUER),
        token,
      });
      const res = await fetch(`${broker.url}/oauth/introspect`, {
        ...form({}),
        body: body.toString(),
      });
      expect(await res.json()).toMatchObject({ active: true, jti: decodeJwt(token).jti });
    }
  });
});
