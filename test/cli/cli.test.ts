/**
 * The operator CLI as a child process, exactly as `npx mandate` runs it: on this
 * run's driver (a fresh PostgreSQL database, or an embedded data dir), and
 * against a running broker that holds the embedded database.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { generateKek } from '../../src/keys/kek.ts';
import { cliJson, runCli, startBroker, tempDir, writeJson } from '../helpers/cli.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const PUBLIC_URL = 'https://broker.example';
const scopes = [
  { name: 'mail:read', description: 'Read your mail', sensitivity: 'read' },
  { name: 'mail:send', description: 'Send mail as you', sensitivity: 'write' },
];

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function keyFiles(dir: string, name: string) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: `${name}-1`, alg: 'EdDSA' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: `${name}-1`, alg: 'EdDSA' };
  return {
    privateKey,
    kid: publicJwk.kid,
    publicFile: writeJson(dir, `${name}.jwks.json`, { keys: [publicJwk] }),
    privateFile: writeJson(dir, `${name}.private.json`, { keys: [privateJwk] }),
  };
}

/** Environment pointing the CLI at this run's driver, as an operator would set it. */
async function driverEnv(): Promise<Record<string, string>> {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  if (inject('dbTemplate').driver === 'pglite') {
    return { MANDATE_DATA_DIR: join(dir, 'data'), PUBLIC_URL };
  }
  const database: TestDatabase = await freshDatabase();
  cleanup.push(() => database.close());
  if (!database.url) throw new Error('fresh PostgreSQL database without a URL');
  return { DATABASE_URL: database.url, MANDATE_KEK: generateKek(), PUBLIC_URL };
}

describe('operator CLI on this run’s database', () => {
  it('creates a tenant, adds an agent and an API from files, lists them, invites, rotates keys', async () => {
    const env = await driverEnv();
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const agentKeys = await keyFiles(dir, 'agent');
    const apiKeys = await keyFiles(dir, 'api');
    const scopesFile = writeJson(dir, 'scopes.json', scopes);

    expect(await cliJson(['tenant', 'create', 'acme'], env)).toEqual({ tenant: 'acme' });
    const agent = await cliJson<{ client_id: string }>(
      [
        'agent',
        'add',
        '--tenant',
        'acme',
        '--name',
        'Mail assistant',
        '--jwks',
        agentKeys.publicFile,
      ],
      env,
    );
    expect(agent.client_id).toMatch(/^agent_/);
    const api = await cliJson<{ client_id: string; audience: string }>(
      [
        'api',
        'add',
        '--tenant',
        'acme',
        '--audience',
        'https://mail.example/api',
        '--scopes',
        scopesFile,
        '--jwks',
        apiKeys.publicFile,
      ],
      env,
    );
    expect(api.client_id).toMatch(/^api_/);
    expect(api.audience).toBe('https://mail.example/api');

    const agents = await cliJson<{ agents: unknown[] }>(['agent', 'list', '--tenant', 'acme'], env);
    expect(agents.agents).toEqual([
      expect.objectContaining({
        client_id: agent.client_id,
        name: 'Mail assistant',
        status: 'active',
        kids: ['agent-1'],
      }),
    ]);
    const apis = await cliJson<{ apis: unknown[] }>(['api', 'list', '--tenant', 'acme'], env);
    expect(apis.apis).toEqual([
      expect.objectContaining({ client_id: api.client_id, audience: api.audience, scopes }),
    ]);

    const invite = await cliJson<{ user_id: string; invite_url: string }>(
      ['user', 'invite', '--tenant', 'acme', '--email', 'ada@example.com'],
      env,
    );
    expect(invite.invite_url).toMatch(new RegExp(`^${PUBLIC_URL}/invite/[\\w-]{43}$`));

    const { kid } = await cliJson<{ kid: string }>(['keys', 'rotate'], env);
    const keys = await cliJson<{ keys: { kid: string; status: string }[] }>(['keys', 'list'], env);
    expect(keys.keys.find((k) => k.status === 'current')?.kid).toBe(kid);
    expect(keys.keys.map((k) => k.status).sort()).toEqual(['current', 'next', 'retired']);

    // Without --json: readable lines, same facts.
    const human = await runCli(['agent', 'list', '--tenant', 'acme'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/client_id\s+name\s+status/);
    expect(human.stdout).toContain('Mail assistant');
  }, 180_000);

  it('refuses bad input with a clear message and a non-zero exit, writing nothing', async () => {
    const env = await driverEnv();
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const keys = await keyFiles(dir, 'bad');
    const scopesFile = writeJson(dir, 'scopes.json', scopes);
    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{"keys": [');
    await cliJson(['tenant', 'create', 'acme'], env);

    const cases: { args: string[]; code: number; message: RegExp }[] = [
      { args: ['tenant', 'lst'], code: 2, message: /unknown command "tenant lst"/ },
      { args: ['agent', 'list'], code: 2, message: /missing --tenant/ },
      {
        args: ['agent', 'add', '--tenant', 'acme', '--name', 'x', '--bogus', '1'],
        code: 2,
        message: /--bogus/,
      },
      {
        args: ['agent', 'add', '--tenant', 'acme', '--name', 'x', '--jwks', join(dir, 'nope.json')],
        code: 2,
        message: /cannot read --jwks file .*nope\.json/,
      },
      {
        args: ['agent', 'add', '--tenant', 'acme', '--name', 'x', '--jwks', notJson],
        code: 2,
        message: /--jwks file .*broken\.json is not JSON/,
      },
      {
        args: ['agent', 'add', '--tenant', 'acme', '--name', 'x'],
        code: 2,
        message: /exactly one of --jwks, --jwks-uri/,
      },
      {
        args: ['agent', 'add', '--tenant', 'acme', '--name', 'x', '--jwks', keys.privateFile],
        code: 1,
        message: /private key material/,
      },
      {
        args: ['agent', 'add', '--tenant', 'nope', '--name', 'x', '--jwks', keys.publicFile],
        code: 1,
        message: /no tenant "nope"/,
      },
      {
        args: [
          'api',
          'add',
          '--tenant',
          'acme',
          '--audience',
          'https://a.example#frag',
          '--scopes',
          scopesFile,
          '--jwks',
          keys.publicFile,
        ],
        code: 1,
        message: /fragment/,
      },
      {
        args: [
          'api',
          'add',
          '--tenant',
          'acme',
          '--audience',
          'https://a.example',
          '--scopes',
          keys.publicFile,
          '--jwks',
          keys.publicFile,
        ],
        code: 1,
        message: /invalid scopes/,
      },
      { args: ['tenant', 'create', 'acme'], code: 1, message: /tenant "acme" already exists/ },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, env);
      expect({ args: c.args, code: r.code }).toEqual({ args: c.args, code: c.code });
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe('');
    }

    // --json errors are one JSON object on stderr.
    const r = await runCli(['tenant', 'create', 'acme', '--json'], env);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toEqual({
      error: 'ERR_CONFLICT',
      message: 'tenant "acme" already exists',
    });

    expect(await cliJson(['agent', 'list', '--tenant', 'acme'], env)).toEqual({ agents: [] });
    expect(await cliJson(['api', 'list', '--tenant', 'acme'], env)).toEqual({ apis: [] });
  }, 180_000);
});

describe('operator CLI while the broker runs on the embedded database', () => {
  it('goes through the broker’s loopback endpoint; what it adds works at once', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { MANDATE_DATA_DIR: join(dir, 'data') };
    const broker = await startBroker(env);
    cleanup.push(() => broker.stop());

    const lockFile = join(dir, 'data', 'broker.lock');
    expect(statSync(lockFile).mode & 0o777).toBe(0o600);
    const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as {
      operatorUrl: string;
      operatorToken: string;
    };
    expect(new URL(lock.operatorUrl).hostname).toBe('127.0.0.1');

    const keys = await keyFiles(dir, 'agent');
    expect(await cliJson(['tenant', 'create', 'acme'], env)).toEqual({ tenant: 'acme' });
    const { client_id } = await cliJson<{ client_id: string }>(
      ['agent', 'add', '--tenant', 'acme', '--name', 'Planner', '--jwks', keys.publicFile],
      env,
    );

    // The running broker authenticates the new agent: the grant type is refused, not the client.
    const tokenUrl = `${broker.url}/oauth/token`;
    const post = async () => {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: keys.kid })
        .setIssuer(client_id)
        .setSubject(client_id)
        .setAudience(broker.url)
        .setIssuedAt()
        .setExpirationTime('60s')
        .setJti(crypto.randomUUID())
        .sign(keys.privateKey);
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      return ((await res.json()) as { error: string }).error;
    };
    expect(await post()).toBe('unsupported_grant_type');
    await cliJson(['agent', 'disable', '--tenant', 'acme', '--client-id', client_id], env);
    expect(await post()).toBe('invalid_client');

    // Rotation through the CLI is what the running broker serves.
    const { kid } = await cliJson<{ kid: string }>(['keys', 'rotate'], env);
    const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);

    // The endpoint wants the token from the lock file, and answers nothing without it.
    const call = (authorization: string) =>
      fetch(`${lock.operatorUrl}/v1/commands`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'tenant list' }),
      });
    expect((await call(`Bearer ${lock.operatorToken.slice(0, -1)}x`)).status).toBe(401);
    expect((await call('')).status).toBe(401);
    expect((await call(`Bearer ${lock.operatorToken}`)).status).toBe(200);

    // Once the broker stops, the CLI opens the data dir itself and finds everything.
    await broker.stop();
    const tenants = await cliJson<{ tenants: { slug: string }[] }>(['tenant', 'list'], env);
    expect(tenants.tenants.map((t) => t.slug)).toEqual(['acme']);
  }, 180_000);
});
