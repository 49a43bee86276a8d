/**
 * What every answer of the broker must look like, whatever it was sent: never a 5xx;
 * an error is OAuth-shaped JSON (RFC 6749 §5.2: a string `error`) with a 4xx status
 * the broker uses; an HTML page comes only from a page route; a redirect stays on
 * this origin; and no body shows a stack trace, a file path or the database's words.
 */
import { CONTENT_SECURITY_POLICY as PAGE_CSP } from '../../../src/ui/csp.ts';
import { ISSUER } from '../../helpers/app.ts';

/** The statuses the broker answers with (src/oauth/errors.ts, the pages' 303 and 410). */
const STATUSES = new Set([200, 303, 400, 401, 403, 404, 405, 410, 413, 415, 429]);

/** The GET routes that render pages (src/ui/routes.tsx, src/delegation/routes.tsx). */
const PAGE_ROUTE = /^\/(activity|requests\/[^/]+|invite\/[^/]+)?$/;

/** Signs of an internal error escaping into a body. */
const LEAKS: RegExp[] = [
  /\n\s+at \S/, // a stack frame
  /\(\/[^)]*:\d+:\d+\)/, // (file:line:column)
  /file:\/\//,
  /node:internal/,
  /node_modules/,
  /\/work\//,
  /\b(TypeError|ReferenceError|SyntaxError|RangeError|AggregateError)\b/,
  /\b(PostgresError|DrizzleError|DrizzleQueryError|PGlite)\b/,
  /Failed query/i,
  /violates|duplicate key|syntax error at|invalid input syntax|invalid byte sequence/i,
  /relation "|column "/,
  /\[object Object\]/,
];

export interface Answer {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

/** Reads a body; an event stream is read until it says `ready` (or briefly), then closed. */
export async function readBody(res: Response): Promise<string> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream') || !res.body) return res.text();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 2000;
  while (!text.includes('event: ready') && text.length < 65_536 && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(1, deadline - Date.now()));
    });
    const chunk = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

/** Everything wrong with an answer; empty when it is well-formed. */
export function problemsWith(a: Answer): string[] {
  const problems: string[] = [];
  const type = (a.headers.get('content-type') ?? '').toLowerCase();
  const path = new URL(a.url).pathname;
  if (a.status >= 500) problems.push(`status ${a.status}`);
  else if (!STATUSES.has(a.status)) problems.push(`unexpected status ${a.status}`);
  const asset = a.status === 200 && /^text\/(css|javascript)/.test(type);
  for (const leak of asset ? [] : LEAKS) {
    if (leak.test(a.body)) problems.push(`body matches ${String(leak)}`);
  }
  // src/ui/csp.ts: nosniff and no framing on everything, the strict policy on pages.
  if (a.headers.get('x-content-type-options') !== 'nosniff') problems.push('no nosniff');
  if (a.headers.get('x-frame-options') !== 'DENY') problems.push('framing not denied');
  if (type.startsWith('text/html') && a.headers.get('content-security-policy') !== PAGE_CSP) {
    problems.push('a page without the strict content security policy');
  }
  if (a.method === 'HEAD') {
    if (a.body !== '') problems.push('a HEAD answer with a body');
    return problems;
  }

  if (a.status === 200 && a.body === '' && type === '') {
    // RFC 7009 §2.2: revocation answers 200 with nothing to say.
    if (!path.startsWith('/oauth/revoke')) problems.push(`an empty answer from ${path}`);
  } else if (a.status >= 300 && a.status < 400) {
    const location = a.headers.get('location') ?? '';
    if (!/^\/(?![/\\])/.test(location)) problems.push(`redirect to ${JSON.stringify(location)}`);
    if (a.method !== 'GET' && a.method !== 'POST') problems.push(`redirect for ${a.method}`);
  } else if (/^application\/([a-z.-]+\+)?json\b/.test(type)) {
    let json: unknown;
    try {
      json = JSON.parse(a.body);
    } catch {
      problems.push('JSON content-type with a body that is not JSON');
    }
    if (a.status >= 400) problems.push(...oauthErrorProblems(json));
    else if (typeof json !== 'object' || json === null) problems.push('JSON answer not an object');
  } else if (type.startsWith('text/html')) {
    if (!PAGE_ROUTE.test(path) || a.method !== 'GET') problems.push(`HTML from ${path}`);
    if (!a.body.startsWith('<!doctype html>') || !a.body.trimEnd().endsWith('</html>')) {
      problems.push('an HTML answer that is not a whole page');
    }
  } else if (
    type.startsWith('application/statuslist+jwt') ||
    type.startsWith('application/vc+jwt')
  ) {
    if (a.status !== 200 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(a.body)) problems.push('bad JWT body');
  } else if (type.startsWith('text/event-stream')) {
    if (a.status !== 200 || !path.startsWith('/oauth/revocation-events')) {
      problems.push(`event stream from ${path}`);
    }
  } else if (type.startsWith('text/css') || type.startsWith('text/javascript')) {
    if (a.status !== 200 || !path.startsWith('/assets/')) problems.push(`asset from ${path}`);
  } else {
    problems.push(`content-type ${JSON.stringify(type)}`);
  }
  return problems;
}

function oauthErrorProblems(json: unknown): string[] {
  if (typeof json !== 'object' || json === null) return ['an error that is not a JSON object'];
  const { error, error_description: description } = json as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof error !== 'string' || !/^[a-z_]+$/.test(error)) {
    problems.push(`error ${JSON.stringify(error)}`);
  }
  if (description !== undefined && typeof description !== 'string') {
    problems.push('error_description not a string');
  }
  return problems;
}

/** One line for a failure report: the request and what came back. */
export function summarise(a: Answer, problems: string[]): string {
  const url = a.url.startsWith(ISSUER) ? a.url.slice(ISSUER.length) : a.url;
  return `${a.method} ${url.slice(0, 300)} → ${a.status} ${a.headers.get('content-type')}: ${problems.join('; ')}\n${a.body.slice(0, 600)}`;
}
