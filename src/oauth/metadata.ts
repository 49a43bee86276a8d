/**
 * RFC 8414 authorization-server metadata. It lists only what exists, so a stock
 * client never tries an endpoint or grant the broker does not have yet.
 */
import type { Config } from '../config.ts';
import { AGENT_TASK } from '../delegation/authorization-details.ts';
import { CIBA_GRANT_TYPE } from './ciba-grant.ts';
import { CLIENT_ASSERTION_ALGS } from './client-auth.ts';

export const paths = {
  metadata: '/.well-known/oauth-authorization-server',
  jwks: '/.well-known/jwks.json',
  token: '/oauth/token',
  backchannel: '/oauth/backchannel',
} as const;

export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const issuer = config.publicUrl;
  return {
    issuer,
    jwks_uri: `${issuer}${paths.jwks}`,
    token_endpoint: `${issuer}${paths.token}`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    grant_types_supported: [CIBA_GRANT_TYPE],
    backchannel_authentication_endpoint: `${issuer}${paths.backchannel}`,
    // Poll only: ping and push would need a client notification endpoint we do not call.
    backchannel_token_delivery_modes_supported: ['poll'],
    backchannel_user_code_parameter_supported: false,
    authorization_details_types_supported: [AGENT_TASK],
    response_types_supported: [],
    scopes_supported: [],
  };
}
