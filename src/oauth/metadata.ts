/**
 * RFC 8414 authorization-server metadata. It lists only what exists, so a stock
 * client never tries an endpoint or grant the broker does not have yet.
 */
import type { Config } from '../config.ts';
import { AGENT_TASK } from '../delegation/authorization-details.ts';
import { CIBA_GRANT_TYPE } from './ciba-grant.ts';
import { didWebFor } from '../did/did-web.ts';
import { EXCHANGE_TOKEN_TYPES } from '../tokens/exchange.ts';
import { CLIENT_ASSERTION_ALGS } from './client-auth.ts';
import { DPOP_ALGS } from './dpop.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from './exchange-grant.ts';
import { REFRESH_GRANT_TYPE } from './refresh-grant.ts';

export const paths = {
  metadata: '/.well-known/oauth-authorization-server',
  jwks: '/.well-known/jwks.json',
  token: '/oauth/token',
  backchannel: '/oauth/backchannel',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  overrun: '/oauth/overrun',
  revocationEvents: '/oauth/revocation-events',
} as const;

export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const issuer = config.publicUrl;
  return {
    issuer,
    jwks_uri: `${issuer}${paths.jwks}`,
    token_endpoint: `${issuer}${paths.token}`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // RFC 9449 §5.1: DPoP proofs at the token endpoint, with the same asymmetric algorithms.
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    grant_types_supported: [
      CIBA_GRANT_TYPE,
      REFRESH_GRANT_TYPE,
      // MANDATE_TOKEN_EXCHANGE_MAX_DEPTH=0 turns sub-agent exchange off.
      ...(config.tokenExchangeMaxDepth > 0 ? [TOKEN_EXCHANGE_GRANT_TYPE] : []),
    ],
    backchannel_authentication_endpoint: `${issuer}${paths.backchannel}`,
    // Poll only: ping and push would need a client notification endpoint we do not call.
    backchannel_token_delivery_modes_supported: ['poll'],
    backchannel_user_code_parameter_supported: false,
    authorization_details_types_supported: [AGENT_TASK],
    // RFC 7662 for APIs and RFC 7009 for agents, both with the token endpoint's client auth.
    introspection_endpoint: `${issuer}${paths.introspection}`,
    introspection_endpoint_auth_methods_supported: ['private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    revocation_endpoint: `${issuer}${paths.revocation}`,
    revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // Mandate extensions for the verifiable-credential form: the token types
    // `requested_token_type` accepts, and the did:web that issues the credentials
    // (its document is at /.well-known/did.json, or /did.json under a path).
    // Mandate extensions for APIs (docs/REVOCATION.md): reporting a scope overrun, and
    // the Server-Sent Events stream of revocations for the caller's audience.
    mandate_overrun_endpoint: `${issuer}${paths.overrun}`,
    mandate_revocation_events_endpoint: `${issuer}${paths.revocationEvents}`,
    mandate_requested_token_types_supported: [...EXCHANGE_TOKEN_TYPES],
    mandate_vc_issuer: didWebFor(issuer).did,
    response_types_supported: [],
    scopes_supported: [],
  };
}
