/**
 * RFC 8414 authorization-server metadata. It lists only what exists, so a stock
 * client never tries an endpoint or grant the broker does not have yet.
 */
import type { Config } from '../config.ts';
import { CLIENT_ASSERTION_ALGS } from './client-auth.ts';

export const paths = {
  metadata: '/.well-known/oauth-authorization-server',
  jwks: '/.well-known/jwks.json',
  token: '/oauth/token',
} as const;

export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const issuer = config.publicUrl;
  return {
    issuer,
    jwks_uri: `${issuer}${paths.jwks}`,
    token_endpoint: `${issuer}${paths.token}`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // No grant is implemented yet; the token endpoint authenticates clients and says so.
    grant_types_supported: [],
    response_types_supported: [],
    scopes_supported: [],
  };
}
