/**
 * Reporting a scope overrun to the broker (`mandate_overrun_endpoint`,
 * docs/REVOCATION.md): the token as received, the scopes it lacked, and where it
 * was tried. The broker revokes the token, and by policy its whole grant.
 */
import { clientAuthParams, type AssertionSigner } from './client-assertion.ts';
import { BrokerError, refused } from './broker-error.ts';

/**
 * What an API tells the broker about a token used beyond its scope.
 *
 * @example
 * await verifier.reportOverrun({
 *   token: c.var.mandate,            // or the raw token string
 *   attemptedScope: ['repo:admin'],
 *   method: 'DELETE',
 *   path: '/repos/42',
 * });
 */
export interface OverrunReport<T = string> {
  token: T;
  /** The scopes the request needed and the token lacked. */
  attemptedScope: string[];
  method?: string;
  path?: string;
}

/**
 * The broker's answer: what it revoked (`token`, and `grant` when the policy took
 * the whole grant), with the counts that led there.
 */
export interface OverrunResult {
  revoked: string[];
  jti?: string;
  grant_id?: string;
  overruns?: number;
  threshold?: number;
}

export async function postOverrun(
  deps: { endpoint: string; fetch: typeof fetch; sign: AssertionSigner },
  report: OverrunReport,
): Promise<OverrunResult> {
  const body = new URLSearchParams(await clientAuthParams(deps.sign));
  body.set('token', report.token);
  body.set('attempted_scope', report.attemptedScope.join(' '));
  if (report.method !== undefined) body.set('method', report.method);
  if (report.path !== undefined) body.set('path', report.path);
  let res: Response;
  try {
    res = await deps.fetch(deps.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    });
  } catch (cause) {
    throw new BrokerError('ERR_BROKER_UNAVAILABLE', 'the overrun report could not be sent', {
      cause,
    });
  }
  if (res.status !== 200) throw await refused('the overrun endpoint', res);
  const result = (await res.json().catch(() => undefined)) as OverrunResult | undefined;
  if (!result || !Array.isArray(result.revoked)) {
    throw new BrokerError('ERR_BROKER_REFUSED', 'the overrun endpoint answered no revoked list', {
      status: res.status,
    });
  }
  return result;
}
