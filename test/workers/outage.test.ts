/**
 * The Worker while its database is away, and after it comes back: every answer is a
 * clean one (503 temporarily_unavailable with Retry-After, /readyz in its own shape,
 * /healthz unaffected), and the first-request set-up that failed is tried again, so the
 * isolate recovers by itself. The database is one that does not exist yet: PostgreSQL
 * refuses each connection to it (FATAL), as it does while a database restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeys } from '../../src/db/schema.ts';
import { plannedPostgresDatabase, startTestWorker, type TestWorker } from '../helpers/worker.ts';

let worker: TestWorker;
const database = plannedPostgresDatabase();

beforeAll(async () => {
  worker = await startTestWorker({}, database);
}, 60_000);
afterAll(async () => {
  await worker?.close();
});

const get = async (path: string) => {
  const res = await fetch(`${worker.url}${path}`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
};

describe('the Worker without its database', () => {
  it('answers 503 temporarily_unavailable, then serves once the database is there', async () => {
    for (const path of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
      const res = await get(path);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.body).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'the service is temporarily unavailable; retry shortly',
      });
    }
    const form = await fetch(`${worker.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(form.status).toBe(503);
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: { status: 'not_ready', checks: { database: 'failing', keys: 'failing' } },
    });

    await database.create();
    // No key was made while the database was away; the next request makes them.
    expect(await database.owner.select().from(signingKeys)).toEqual([]);
    expect(await get('/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', keys: 'ok' } },
    });
    const jwks = await get('/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect((jwks.body as { keys: unknown[] }).keys).toHaveLength(2);
    expect(await database.owner.select().from(signingKeys)).toHaveLength(2);
  });
});
