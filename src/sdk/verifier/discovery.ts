/**
 * RFC 8414 discovery: the broker's metadata names its keys and the Mandate
 * endpoints an API talks to. The metadata's `issuer` must be exactly the issuer
 * the verifier was configured with (§3.3), or an attacker who can answer for the
 * URL could hand out their own keys.
 */
import { BrokerError } from './broker-error.ts';

export const METADATA_PATH = '/.well-known/oauth-authorization-server';

export interface BrokerMetadata {
  issuer: string;
  jwks_uri: string;
  mandate_overrun_endpoint: string | undefined;
  mandate_revocation_events_endpoint: string | undefined;
}

export async function discover(issuer: string, fetchFn: typeof fetch): Promise<BrokerMetadata> {
  const url = `${issuer}${METADATA_PATH}`;
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new BrokerError('ERR_DISCOVERY', `could not fetch ${url}`, { cause });
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new BrokerError('ERR_DISCOVERY', `${url} answered ${res.status}, expected 200`, {
      status: res.status,
    });
  }
  const body: unknown = await res.json().catch((cause: unknown) => {
    throw new BrokerError('ERR_DISCOVERY', `${url} did not answer JSON`, { cause });
  });
  if (!body || typeof body !== 'object') {
    throw new BrokerError('ERR_DISCOVERY', `${url} did not answer a JSON object`);
  }
  const m = body as Record<string, unknown>;
  if (m.issuer !== issuer) {
    throw new BrokerError(
      'ERR_DISCOVERY',
      `the metadata issuer is ${JSON.stringify(m.issuer)}, expected ${JSON.stringify(issuer)}`,
    );
  }
  return {
    issuer,
    jwks_uri: endpoint(m, 'jwks_uri', true),
    mandate_overrun_endpoint: endpoint(m, 'mandate_overrun_endpoint', false),
    mandate_revocation_events_endpoint: endpoint(m, 'mandate_revocation_events_endpoint', false),
  };
}

function endpoint(m: Record<string, unknown>, key: string, required: true): string;
function endpoint(m: Record<string, unknown>, key: string, required: false): string | undefined;
function endpoint(m: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = m[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw new BrokerError('ERR_DISCOVERY', `the metadata ${key} is not a URL`);
  }
  const { protocol } = new URL(value);
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new BrokerError('ERR_DISCOVERY', `the metadata ${key} is not an http(s) URL`);
  }
  return value;
}
