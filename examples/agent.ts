/**
 * A small agent using `mandate/agent`: it asks a person for read access to their
 * repositories, waits for them to approve it with a passkey, mints one short-lived
 * token for the task, lists the repositories — and then tries to delete one, which
 * its token does not allow. The API refuses and reports it; the broker revokes the
 * token and the grant; the agent finds both dead.
 *
 * Run on its own (after `mandate agent add`, see examples/README.md):
 *
 *   MANDATE_ISSUER=http://localhost:8787 AGENT_CLIENT_ID=agent_… AGENT_KEY_FILE=agent.key.json \
 *   PERSON=ada@example.com API_URL=http://localhost:8788/ npx tsx examples/agent.ts
 */
import { pathToFileURL } from 'node:url';
import {
  createAgent,
  loadKeyFile,
  MandateAgentError,
  type AgentKey,
  type MandateAgent,
  type PendingGrant,
} from 'mandate/agent';

export interface AgentRun {
  issuer: string;
  clientId: string;
  key: AgentKey;
  /** The person to ask, by email. */
  person: string;
  /** The API's audience; its routes hang below it. */
  api: string;
  /** Narration: `say` before each step, `detail` for what came of it. */
  say: (line: string) => void;
  detail?: (line: string) => void;
  /**
   * Called once the request is with the person, while the agent waits for the answer
   * (the demo drives a browser here, or tells the person where to click).
   */
  onAsked?: (pending: PendingGrant, bindingMessage: string) => Promise<void> | void;
  /** Seconds to wait for the person to register a passkey before asking fails. */
  registrationWait?: number;
  fetch?: typeof fetch;
}

/** What happened, for whoever checks it (the demo's CI mode). */
export interface AgentOutcome {
  grantScope: string;
  listStatus: number;
  repos: string[];
  deleteStatus: number;
  deleteError: string | undefined;
  afterStatus: number;
  afterError: string | undefined;
  remintError: string | undefined;
}

const BINDING_MESSAGE = 'Repo check';

export async function runAgent(run: AgentRun): Promise<AgentOutcome> {
  const { say, api } = run;
  const agent = await createAgent({
    issuer: run.issuer,
    clientId: run.clientId,
    key: run.key,
    // Everything sender-constrained: a stolen token or grant handle is useless without this key.
    dpop: true,
    allowInsecureRequests: new URL(run.issuer).protocol === 'http:',
    ...(run.fetch ? { fetch: run.fetch } : {}),
  });

  const detail = run.detail ?? say;
  say(`The agent asks ${run.person} for permission to read their repositories (CIBA).`);
  const pending = await askPatiently(agent, run);
  detail(
    `Request sent, with the binding message "${BINDING_MESSAGE}". ` +
      'The agent never sees an approval link; it waits for the answer.',
  );
  // The person's part runs while the agent waits; if it fails, stop waiting too.
  const stop = new AbortController();
  const [grant] = await Promise.all([
    agent.waitForGrant(pending, { signal: stop.signal }),
    Promise.resolve(run.onAsked?.(pending, BINDING_MESSAGE)).catch((err: unknown) => {
      stop.abort(err);
      throw err;
    }),
  ]);
  say(`${run.person} approved: the agent holds a grant for ${grant.firstToken.scope}.`);
  detail('The grant is bound to the agent’s DPoP key: without that key its handle is useless.');

  say('The agent mints a token for one task: list the repositories.');
  const token = await agent.mintTaskToken(grant, {
    resource: api,
    scope: 'repo:read',
    task: { identifier: 'list-repos', purpose: 'List the repositories', maxTokenTtl: 120 },
  });
  detail(`${token.scope}, ${token.tokenType}-bound, valid for ${token.expiresIn} seconds.`);

  say('The agent calls GET /repos with it.');
  const list = await agent.fetch(token, new URL('repos', api));
  const listed = list.ok ? ((await list.json()) as { repos: { id: string }[] }).repos : [];
  detail(`→ ${list.status}: ${listed.map((r) => r.id).join(', ') || '(nothing)'}`);

  say('The agent oversteps: POST /repos/mandate/delete, which needs repo:admin.');
  const del = await agent.fetch(token, new URL('repos/mandate/delete', api), { method: 'POST' });
  const deleteError = await oauthError(del);
  detail(
    `→ ${del.status} ${deleteError ?? ''}. The API reported the overrun to the broker, ` +
      'which revoked the token and, as repo:admin was never granted, the whole grant.',
  );

  say('The agent calls GET /repos again with the same token.');
  const after = await agent.fetch(token, new URL('repos', api));
  const afterError = await oauthError(after);
  detail(`→ ${after.status} ${afterError ?? ''}`);

  say('The agent asks for a fresh token under its grant.');
  let remintError: string | undefined;
  try {
    await agent.mintTaskToken(grant, { resource: api, scope: 'repo:read' });
    detail('→ issued: the grant is still alive.');
  } catch (err) {
    if (!(err instanceof MandateAgentError) || err.code !== 'ERR_AGENT_OAUTH') throw err;
    remintError = err.error;
    detail(`→ refused (${remintError}): the grant is revoked.`);
  }

  return {
    grantScope: grant.firstToken.scope,
    listStatus: list.status,
    repos: listed.map((r) => r.id),
    deleteStatus: del.status,
    deleteError,
    afterStatus: after.status,
    afterError,
    remintError,
  };
}

/**
 * Asks for the grant; while the person has not registered a passkey yet the broker
 * answers unknown_user_id (it names nobody who cannot approve), so ask again a little later.
 */
async function askPatiently(agent: MandateAgent, run: AgentRun): Promise<PendingGrant> {
  const deadline = Date.now() + (run.registrationWait ?? 0) * 1000;
  let told = false;
  for (;;) {
    try {
      return await agent.requestGrant({
        loginHint: run.person,
        scope: 'repo:read',
        resource: run.api,
        bindingMessage: BINDING_MESSAGE,
        requestedExpiry: 600,
        task: { purpose: 'Check your repositories once', duration: 3600, maxTokenTtl: 120 },
      });
    } catch (err) {
      const unknown = err instanceof MandateAgentError && err.error === 'unknown_user_id';
      if (!unknown || Date.now() > deadline) throw err;
      if (!told) (run.detail ?? run.say)(`Waiting for ${run.person} to create a passkey…`);
      told = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function oauthError(res: Response): Promise<string | undefined> {
  if (res.ok) return undefined;
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  return body.error;
}

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`set ${name} (see examples/README.md)`);
    return value;
  };
  const outcome = await runAgent({
    issuer: env('MANDATE_ISSUER'),
    clientId: env('AGENT_CLIENT_ID'),
    key: await loadKeyFile(env('AGENT_KEY_FILE')),
    person: env('PERSON'),
    api: env('API_URL'),
    say: (line) => console.log(line),
    onAsked: () => console.log('Approve the request on your Mandate dashboard.'),
    registrationWait: 600,
  });
  console.log(JSON.stringify(outcome, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
