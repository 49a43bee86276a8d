/**
 * Connecting an agent to the broker: RFC 8414 discovery through openid-client,
 * private_key_jwt client authentication (RFC 7523) with the agent's key, and an
 * optional DPoP key (RFC 9449) that every grant redemption, mint and API call then
 * proves possession of. The result is the context every other operation takes.
 */
import * as oidc from 'openid-client';
import { MandateAgentError, toAgentError } from './errors.ts';
import { generateAgentKey, signingAlg, type AgentKey } from './keys.ts';

export interface AgentOptions {
  /** The broker's issuer URL, exactly as its metadata names it (e.g. `https://mandate.example`). */
  issuer: string | URL;
  /** The client id `mandate agent add` printed. */
  clientId: string;
  /** The key pair whose public half was registered (generateAgentKey, loadKeyFile). */
  key: AgentKey;
  /**
   * Sender-constrain everything with DPoP (RFC 9449): `true` makes a fresh P-256 key for
   * this agent (see MandateAgent.dpopKey to keep it); or pass the key a grant was bound
   * to, so a restarted agent can keep minting under it. Off by default.
   */
  dpop?: boolean | AgentKey;
  /** Fetch used for the broker and for API calls (tests inject one). Defaults to global fetch. */
  fetch?: typeof fetch;
  /**
   * Allow plain `http:` — only for an issuer on loopback (localhost, 127.0.0.1, ::1), as in
   * tests and the demo. Anything else is refused: tokens and grant handles must not travel
   * in clear text.
   */
  allowInsecureRequests?: boolean;
  /** Seconds before a single HTTP request gives up (default 30). */
  timeout?: number;
}

/** What every operation needs; built once by connect. */
export interface AgentContext {
  config: oidc.Configuration;
  issuer: string;
  clientId: string;
  key: AgentKey;
  dpop: { key: AgentKey; handle: oidc.DPoPHandle } | undefined;
  /** The same client authentication, fetch and http policy, for the one oauth4webapi call. */
  clientAuth: oidc.ClientAuth;
  fetch: oidc.CustomFetch | undefined;
  insecure: boolean;
}

/** Hosts plain http may reach when allowInsecureRequests is on: this machine only. */
export const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export async function connect(options: AgentOptions): Promise<AgentContext> {
  const issuer = new URL(options.issuer);
  const insecure = issuer.protocol === 'http:';
  if (insecure && !options.allowInsecureRequests) {
    throw new MandateAgentError(
      'ERR_AGENT_OPTION',
      `issuer ${issuer.href} is plain http; use https (allowInsecureRequests is for localhost only)`,
    );
  }
  if (insecure && !LOOPBACK.has(issuer.hostname)) {
    throw new MandateAgentError(
      'ERR_AGENT_OPTION',
      `allowInsecureRequests is only for a loopback issuer, not ${issuer.hostname}`,
    );
  }
  if (!options.clientId) throw new MandateAgentError('ERR_AGENT_OPTION', 'clientId is required');
  // Fails early, with a clear message, on a key type the broker would refuse.
  signingAlg(options.key.privateKey);

  const clientAuth = oidc.PrivateKeyJwt({ key: options.key.privateKey, kid: options.key.kid });
  const fetch = options.fetch ? adapt(options.fetch) : undefined;
  let config: oidc.Configuration;
  try {
    config = await oidc.discovery(issuer, options.clientId, {}, clientAuth, {
      algorithm: 'oauth2',
      execute: insecure ? [oidc.allowInsecureRequests] : [],
      ...(fetch ? { [oidc.customFetch]: fetch } : {}),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    });
  } catch (err) {
    throw toAgentError(err, `discovering ${issuer.href}`);
  }

  let dpop: AgentContext['dpop'];
  if (options.dpop) {
    const key = options.dpop === true ? await generateAgentKey('ES256') : options.dpop;
    const handle = oidc.getDPoPHandle(config, {
      privateKey: key.privateKey,
      publicKey: key.publicKey,
    });
    dpop = { key, handle };
  }
  return {
    config,
    issuer: config.serverMetadata().issuer,
    clientId: options.clientId,
    key: options.key,
    dpop,
    clientAuth,
    fetch,
    insecure,
  };
}

/** openid-client hands its fetch a URL string and plain options; a standard fetch takes both. */
function adapt(f: typeof fetch): oidc.CustomFetch {
  return (url, init) => f(url, init as RequestInit);
}
