/**
 * Agents minting at load while the database misbehaves, for the fault and race
 * tests: concurrent loops of per-task mints through the real token endpoint, each
 * request timed and its answer kept; a /readyz poller; and the one place these
 * tests read tables directly (`recordedTokens`, `grantRevocation`), so that once
 * row-level security is on only these functions need the owner's handle.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import type { Database } from '../../src/db/database.ts';
import { auditEntries, issuedTokens } from '../../src/db/schema.ts';
import type { TestApp } from '../helpers/app.ts';

/** One answer (or its absence), as the caller saw it. */
export interface Outcome {
  /** HTTP status; 0 when no answer came within the bound. */
  status: number;
  /** From sending the request to the end of its body, milliseconds. */
  ms: number;
  /** performance.now() when the request was sent and when it was answered. */
  sentAt: number;
  answeredAt: number;
  body: string;
  headers: Headers | undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends one request and times it. A request still unanswered after `boundMs` is an
 * outcome of status 0 (hung); it is still awaited in the background so that it
 * cannot outlive the test unnoticed (`pending` holds it).
 */
export async function timed(
  send: () => Promise<Response>,
  boundMs: number,
  pending: Set<Promise<unknown>>,
): Promise<Outcome> {
  const sentAt = performance.now();
  const answer = (async () => {
    const res = await send();
    const body = await res.text();
    return { res, body };
  })();
  const tracked = answer.catch(() => undefined);
  pending.add(tracked);
  void tracked.finally(() => pending.delete(tracked));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), boundMs);
  });
  try {
    const got = await Promise.race([answer, hung]);
    const answeredAt = performance.now();
    if (got === 'hung') {
      return {
        status: 0,
        ms: answeredAt - sentAt,
        sentAt,
        answeredAt,
        body: '',
        headers: undefined,
      };
    }
    return {
      status: got.res.status,
      ms: answeredAt - sentAt,
      sentAt,
      answeredAt,
      body: got.body,
      headers: got.res.headers,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** One answer of the token endpoint; a 200's token is named by its jti. */
export interface MintOutcome extends Outcome {
  jti?: string;
}

/** The jti of the access token in a token response. */
export function jtiOf(body: string): string {
  const { access_token } = JSON.parse(body) as { access_token?: unknown };
  if (typeof access_token !== 'string') throw new Error(`no access token in ${body}`);
  const { jti } = decodeJwt(access_token);
  if (typeof jti !== 'string') throw new Error('an access token without a jti');
  return jti;
}

export interface Load {
  /** Every outcome so far, in the order they were answered. */
  outcomes: MintOutcome[];
  /** Outcomes of 200 so far. */
  successes(): number;
  /** Stops the loops after their current request and waits for them. */
  stop(): Promise<MintOutcome[]>;
}

/**
 * `loops` agents' loops, each sending `send()` one after the other until stopped,
 * pausing `pauseMs` between requests (a little, so the machine's other work goes on).
 */
export function startLoad(
  send: () => Promise<Response>,
  options: { loops: number; boundMs: number; pauseMs?: number },
): Load {
  const outcomes: MintOutcome[] = [];
  const pending = new Set<Promise<unknown>>();
  let running = true;
  const loop = async () => {
    while (running) {
      const o: MintOutcome = await timed(send, options.boundMs, pending);
      if (o.status === 200) o.jti = jtiOf(o.body);
      outcomes.push(o);
      await sleep(options.pauseMs ?? 5);
    }
  };
  const loops = Array.from({ length: options.loops }, loop);
  return {
    outcomes,
    successes: () => outcomes.filter((o) => o.status === 200).length,
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all([...pending]);
      return outcomes;
    },
  };
}

/**
 * The broker's log lines from now on (the app reads `deps.log` at each use). A failure
 * the broker did not recognise is logged as `unhandled error …` and answered 500.
 */
export function captureLogs(t: TestApp): string[] {
  const lines: string[] = [];
  t.deps.log = (m) => lines.push(m);
  return lines;
}

/** Waits until `ready()` holds, checking every 20 ms, or fails after `ms`. */
export async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface ReadinessProbe {
  /** Every answer: sent and answered when (performance.now()), its HTTP status (0: none within the bound). */
  seen: { sentAt: number; at: number; status: number; ms: number }[];
  stop(): Promise<void>;
}

/** GETs /readyz every `everyMs` until stopped, each answer bounded like a mint. */
export function probeReadiness(t: TestApp, everyMs: number, boundMs: number): ReadinessProbe {
  const seen: ReadinessProbe['seen'] = [];
  const pending = new Set<Promise<unknown>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const o = await timed(() => t.request('/readyz'), boundMs, pending);
      seen.push({ sentAt: o.sentAt, at: o.answeredAt, status: o.status, ms: o.ms });
      await sleep(everyMs);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      await Promise.all([...pending]);
    },
  };
}

/**
 * Which of these jtis have their issued_tokens row, and which their `token.minted`
 * ledger entry. The only direct table read of these tests: with row-level security
 * on, pass the owner's handle.
 */
export async function recordedTokens(
  db: Database,
  jtis: readonly string[],
): Promise<{ recorded: Set<string>; inLedger: Set<string> }> {
  const recorded = new Set<string>();
  const inLedger = new Set<string>();
  // Chunks keep each statement's parameter list small.
  for (let i = 0; i < jtis.length; i += 500) {
    const chunk = jtis.slice(i, i + 500);
    const rows = await db
      .select({ jti: issuedTokens.jti })
      .from(issuedTokens)
      .where(inArray(issuedTokens.jti, chunk));
    for (const r of rows) recorded.add(r.jti);
    const entries = await db
      .select({ subject: auditEntries.subject })
      .from(auditEntries)
      .where(
        and(
          eq(auditEntries.action, 'token.minted'),
          inArray(
            auditEntries.subject,
            chunk.map((jti) => `token:${jti}`),
          ),
        ),
      );
    for (const e of entries) inLedger.add(e.subject.slice('token:'.length));
  }
  return { recorded, inLedger };
}

/**
 * A grant's recorded tokens (jti, revoked or not) and the `tokens_revoked` count of
 * its `grant.revoked` ledger entry: how many tokens the revocation's UPDATE found.
 * Direct table reads, like recordedTokens.
 */
export async function grantRevocation(
  db: Database,
  grantId: string,
): Promise<{ tokens: { jti: string; revoked: boolean }[]; tokensRevoked: number | undefined }> {
  const rows = await db
    .select({ jti: issuedTokens.jti, revokedAt: issuedTokens.revokedAt })
    .from(issuedTokens)
    .where(eq(issuedTokens.grantId, grantId));
  const [entry] = await db
    .select({ inputs: auditEntries.inputs })
    .from(auditEntries)
    .where(
      and(eq(auditEntries.action, 'grant.revoked'), eq(auditEntries.subject, `grant:${grantId}`)),
    );
  const counted = entry?.inputs.tokens_revoked;
  return {
    tokens: rows.map((r) => ({ jti: r.jti, revoked: r.revokedAt !== null })),
    tokensRevoked: typeof counted === 'number' ? counted : undefined,
  };
}
