/**
 * The load generator: autocannon, in a process of its own (bench/http.ts pins it to its
 * own core), against one token endpoint. Every request carries a client assertion of
 * its own (a jti is accepted once), all signed before the timed part starts, so the
 * generator's work during the run is HTTP alone.
 *
 * Reads BENCH_LOAD (JSON, LoadSpec); prints one line of JSON (LoadResult).
 */
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { importJWK, SignJWT, type JWK } from 'jose';

export interface LoadSpec {
  /** The token endpoint. */
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Bodies signed per second of run: above the highest rate expected. */
  ceiling: number;
  clientId: string;
  privateJwk: JWK;
  /** The assertions' `aud`: the issuer. */
  audience: string;
  /** The form's other fields. */
  fields: Record<string, string>;
  /** Give each request a task of its own (the mint's `agent_task` identifier). */
  taskPerRequest: boolean;
  /** The server's process, whose CPU time the timed part is charged with. */
  serverPid?: number;
}

export interface LoadResult {
  connections: number;
  /** Requests per second, mean over the timed part. */
  rps: number;
  /** Latency, milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Requests sent after the signed bodies ran out (each then fails as a replay). */
  dry: number;
  /** The first non-2xx answer, to say why. */
  firstRefusal?: string;
  /** CPU per successful request, µs: the server process, and PostgreSQL's processes. */
  serverCpuMicros?: number;
  postgresCpuMicros?: number;
}

const TICK_MICROS = 10_000; // USER_HZ is 100 on Linux

/** CPU time (user + system) of one process so far, µs; 0 if it cannot be read. */
function cpuOf(pid: string | number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
  } catch {
    return 0;
  }
}

/** CPU time of every PostgreSQL server process on this machine so far, µs. */
function postgresCpu(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuOf(pid);
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

const spec = JSON.parse(process.env.BENCH_LOAD ?? '') as LoadSpec;
const key = await importJWK(spec.privateJwk, 'EdDSA');

let serial = 0;
async function body(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: spec.privateJwk.kid ?? '' })
    .setIssuer(spec.clientId)
    .setSubject(spec.clientId)
    .setAudience(spec.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 240)
    .setJti(`${process.pid}-${serial}-${crypto.randomUUID()}`)
    .sign(key);
  const fields: Record<string, string> = {
    ...spec.fields,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  };
  if (spec.taskPerRequest) {
    fields.authorization_details = JSON.stringify([
      { type: 'agent_task', identifier: `bench-${process.pid}-${serial}`, purpose: 'One task' },
    ]);
  }
  serial += 1;
  return new URLSearchParams(fields).toString();
}

async function bodies(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await body());
  return out;
}

async function run(seconds: number, pool: string[]) {
  let next = 0;
  let dry = 0;
  let firstRefusal: string | undefined;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest: (req) => {
          const b = pool[next++];
          if (b === undefined) dry += 1;
          return { ...req, body: b ?? pool[0] ?? '' };
        },
        onResponse: (status, resBody) => {
          if (status >= 300 && firstRefusal === undefined) {
            firstRefusal = `${status} ${String(resBody).slice(0, 300)}`;
          }
        },
      },
    ],
  });
  return { result, dry, firstRefusal };
}

const warm = await bodies(Math.ceil(spec.ceiling * spec.warmupSeconds));
await run(spec.warmupSeconds, warm);
const pool = await bodies(Math.ceil(spec.ceiling * spec.seconds));
const before = { server: spec.serverPid ? cpuOf(spec.serverPid) : 0, postgres: postgresCpu() };
const { result, dry, firstRefusal } = await run(spec.seconds, pool);
const ok = Math.max(1, result['2xx']);
const cpu = spec.serverPid
  ? {
      serverCpuMicros: (cpuOf(spec.serverPid) - before.server) / ok,
      postgresCpuMicros: (postgresCpu() - before.postgres) / ok,
    }
  : {};
const out: LoadResult = {
  connections: spec.connections,
  rps: result.requests.average,
  p50: result.latency.p50,
  p90: result.latency.p90,
  p99: result.latency.p99,
  max: result.latency.max,
  ok: result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  dry,
  ...(firstRefusal ? { firstRefusal } : {}),
  ...cpu,
};
console.log(JSON.stringify(out));
