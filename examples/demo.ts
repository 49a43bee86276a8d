/**
 * `npm run demo` — the whole product in one terminal: a broker with an embedded
 * database, an operator registering a tenant, a person, an agent and an API through
 * the CLI, then a person approving the agent with a passkey in their browser, the agent
 * doing its task, overstepping it, and being cut off.
 *
 * `npm run demo -- --headless` plays the person too (headless Chromium with a virtual
 * passkey) and exits 0 only if every step behaved as expected: that is how CI runs it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { generateAgentKey, publicJwks, saveKeyFile } from 'mandate/agent';
import { runAgent, type AgentOutcome } from './agent.ts';
import { createRepoApi, type RepoApi } from './api.ts';
import { startHeadlessPerson, type HeadlessPerson } from './headless-person.ts';
import { listen, runCli, startBroker } from './processes.ts';

const TENANT = 'demo';
const PERSON = 'ada@example.com';
const AGENT_NAME = 'Repo assistant';
const SCOPES = [
  { name: 'repo:read', description: 'See your repositories', sensitivity: 'read' },
  { name: 'repo:write', description: 'Push to your repositories', sensitivity: 'write' },
  { name: 'repo:admin', description: 'Delete your repositories', sensitivity: 'admin' },
];

let step = 0;
const say = (line: string) => console.log(`\n${++step}. ${line}`);
const detail = (line: string) => console.log(`   ${line}`);

async function main(argv = process.argv.slice(2)): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { headless: { type: 'boolean' } } });
  const headless = values.headless === true;
  const work = await mkdtemp(join(tmpdir(), 'mandate-demo-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(work, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  let brokerLog: (() => string) | undefined;
  const interrupted = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  try {
    console.log(`Mandate demo${headless ? ' (headless: a browser plays the person)' : ''}`);

    say('Starting the broker, with an embedded database in a temporary directory.');
    const dataDir = join(work, 'data');
    const broker = await startBroker(dataDir);
    brokerLog = broker.log;
    cleanups.push(broker.stop);
    detail(`Issuer ${broker.url}`);

    say('The operator registers everything with the CLI (npx mandate … --json).');
    const cli = <K extends string>(args: string, fields: K[] = []) =>
      runCli(dataDir, args.split(' '), fields);
    await cli(`tenant create ${TENANT}`);
    detail(`tenant create ${TENANT}`);
    const { invite_url: inviteUrl } = await cli(
      `user invite --tenant ${TENANT} --email ${PERSON}`,
      ['invite_url'],
    );
    detail(`user invite ${PERSON} → a one-time invite link`);

    const agentKey = await generateAgentKey();
    await saveKeyFile(join(work, 'agent.key.json'), agentKey);
    const agentJwks = await json(work, 'agent.jwks.json', publicJwks(agentKey));
    const { client_id: agentId } = await runCli(
      dataDir,
      ['agent', 'add', '--tenant', TENANT, '--name', AGENT_NAME, '--jwks', agentJwks],
      ['client_id'],
    );
    detail(`agent add "${AGENT_NAME}" with its public key → ${agentId} (private key: mode 0600)`);

    const apiListener = await listen();
    cleanups.push(() => apiListener.close());
    const audience = `http://localhost:${apiListener.port}/`;
    const apiKey = await apiKeyPair();
    const scopesFile = await json(work, 'scopes.json', SCOPES);
    const apiJwks = await json(work, 'api.jwks.json', { keys: [apiKey.publicJwk] });
    const apiArgs = ['api', 'add', '--tenant', TENANT, '--name', 'Repos', '--audience', audience];
    apiArgs.push('--scopes', scopesFile, '--jwks', apiJwks);
    const { client_id: apiId } = await runCli(dataDir, apiArgs, ['client_id']);
    detail(`api add ${audience} with scopes repo:read, repo:write, repo:admin → ${apiId}`);

    say(`Starting the repos API on ${audience}, protected by mandate/verifier.`);
    const api: RepoApi = createRepoApi({
      issuer: broker.url,
      audience,
      clientId: apiId,
      privateKey: apiKey.privateJwk,
      log: (line) => detail(`[api] ${line}`),
    });
    cleanups.push(() => api.verifier.close());
    apiListener.handle(api.app.fetch);
    await api.verifier.ready();
    detail('It verifies tokens offline and follows the broker’s revocation events.');

    let person: HeadlessPerson | undefined;
    say(`${PERSON} registers a passkey from the invite link:`);
    detail(inviteUrl);
    if (headless) {
      const browser = await startHeadlessPerson();
      cleanups.push(() => browser.close());
      person = browser;
      await browser.registerPasskey(inviteUrl);
      detail('(headless Chromium pressed "Create passkey" with a virtual authenticator)');
    } else {
      detail('Open it in your browser and press "Create passkey".');
    }

    const outcome = await runAgent({
      issuer: broker.url,
      clientId: agentId,
      key: agentKey,
      person: PERSON,
      api: audience,
      registrationWait: headless ? 0 : 600,
      say,
      detail,
      onAsked: async (_pending, bindingMessage) => {
        if (person) {
          await person.approve(AGENT_NAME, bindingMessage);
          detail('(headless Chromium: "Review", checked the code, "Approve with passkey")');
        } else {
          detail(`Open ${broker.url}/ , press "Review", check the code "${bindingMessage}",`);
          detail('then "Approve with passkey".');
        }
      },
    });
    return verdict(outcome);
  } catch (err) {
    console.error(`\n✘ The demo stopped: ${err instanceof Error ? err.message : String(err)}`);
    const tail = brokerLog?.().trim().split('\n').slice(-20).join('\n  ');
    if (tail) console.error(`\nThe broker's last words:\n  ${tail}`);
    if (err instanceof Error && err.cause instanceof Error)
      console.error(`  (${err.cause.message})`);
    return 1;
  } finally {
    process.off('SIGINT', interrupted);
    await cleanup();
  }
}

/** Every step the demo promises, checked. */
function verdict(o: AgentOutcome): number {
  const checks: [string, boolean, unknown][] = [
    ['the person granted repo:read', o.grantScope === 'repo:read', o.grantScope],
    [
      'the task token listed the repositories',
      o.listStatus === 200 && o.repos.includes('mandate'),
      o.listStatus,
    ],
    [
      'the delete was refused 403 insufficient_scope',
      o.deleteStatus === 403 && o.deleteError === 'insufficient_scope',
      `${o.deleteStatus} ${o.deleteError}`,
    ],
    [
      'the same token then got 401 invalid_token',
      o.afterStatus === 401 && o.afterError === 'invalid_token',
      `${o.afterStatus} ${o.afterError}`,
    ],
    ['the grant was revoked (invalid_grant)', o.remintError === 'invalid_grant', o.remintError],
  ];
  const failed = checks.filter(([, ok]) => !ok);
  console.log('');
  for (const [what, ok, got] of checks) {
    console.log(ok ? `✔ ${what}` : `✘ ${what} — got ${String(got)}`);
  }
  console.log(
    failed.length === 0
      ? '\nEvery step behaved as expected.'
      : '\nSome steps did not behave as expected.',
  );
  return failed.length === 0 ? 0 : 1;
}

async function json(dir: string, name: string, value: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(value, null, 2));
  return file;
}

async function apiKeyPair(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid },
    publicJwk: { ...publicJwk, kid },
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
