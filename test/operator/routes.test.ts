/** The loopback operator endpoint, in-process: authentication, validation and error mapping. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { operatorRoutes } from '../../src/operator/routes.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

const TOKEN = 'operator-token-for-tests-0123456789abcdefghijk';

let t: TestApp;
let logs: string[];
let call: (body: unknown, auth?: string) => Promise<{ status: number; body: unknown }>;

beforeEach(async () => {
  t = await createTestApp();
  logs = [];
  const app = operatorRoutes(
    { db: t.owner, keys: t.deps.keys, config: t.deps.config, clock: t.clock },
    TOKEN,
    (m) => logs.push(m),
  );
  call = async (body, auth = `Bearer ${TOKEN}`) => {
    const res = await app.request('http://127.0.0.1/v1/commands', {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
});
afterEach(() => t.close());

describe('operator endpoint', () => {
  it('runs a command for the right token only', async () => {
    const create = { command: 'tenant create', args: { slug: 'acme' } };
    expect(await call(create, `Bearer ${TOKEN.slice(0, -1)}X`)).toMatchObject({ status: 401 });
    expect(await call(create, `bearer ${TOKEN}`)).toMatchObject({ status: 401 });
    expect(await call(create, TOKEN)).toMatchObject({ status: 401 });
    expect(await call({ command: 'tenant list' })).toEqual({ status: 200, body: { tenants: [] } });
    expect(await call(create)).toEqual({ status: 200, body: { tenant: 'acme' } });
  });

  it('maps refusals to 400, 404 and 409 with the registry’s message', async () => {
    await call({ command: 'tenant create', args: { slug: 'acme' } });
    const cases: [unknown, number, string, RegExp][] = [
      ['{not json', 400, 'ERR_INVALID', /JSON/],
      [{ args: {} }, 400, 'ERR_INVALID', /"command"/],
      [{ command: 'tenant drop', args: {} }, 400, 'ERR_INVALID', /unknown command "tenant drop"/],
      [{ command: 'constructor' }, 400, 'ERR_INVALID', /unknown command/],
      [{ command: 'tenant create', args: { slug: 'x', admin: true } }, 400, 'ERR_INVALID', /admin/],
      [{ command: 'tenant create', args: { slug: 'ACME' } }, 400, 'ERR_INVALID', /slug/],
      [{ command: 'agent list', args: { tenant: 'nope' } }, 404, 'ERR_NOT_FOUND', /no tenant/],
      [{ command: 'tenant create', args: { slug: 'acme' } }, 409, 'ERR_CONFLICT', /exists/],
    ];
    for (const [body, status, error, message] of cases) {
      const res = await call(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body).toEqual({ error, message: expect.stringMatching(message) as string });
    }
  });

  it('refuses a body over 1 MiB without running anything', async () => {
    const res = await call({
      command: 'tenant create',
      args: { slug: 'big', pad: 'x'.repeat(1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect((await call({ command: 'tenant list' })).body).toEqual({ tenants: [] });
  });

  it('answers an internal failure with an opaque 500 and logs it', async () => {
    await t.deps.database.close();
    const res = await call({ command: 'tenant list' });
    expect(res).toEqual({
      status: 500,
      body: { error: 'ERR_INTERNAL', message: 'the broker failed; see its log' },
    });
    expect(logs.join('\n')).toMatch(/operator command failed/);
  });
});
