/**
 * The peer: panva's oidc-provider, configured as close to the mint as it goes. One
 * `client_credentials` client authenticating with `private_key_jwt` (EdDSA), JWT access
 * tokens for one resource (resource indicators, RFC 8707) signed with Ed25519, its
 * default in-memory adapter (which also keeps the assertions' jti replay cache).
 * It keeps nothing durable and decides no policy.
 *
 * Child process of bench/http.ts: reads BENCH_PEER (JSON: port, issuer, resource,
 * client id, the client's public JWK, the provider's private signing JWK), prints
 * `ready` when listening.
 */
import Provider from 'oidc-provider';

interface PeerSpec {
  port: number;
  issuer: string;
  resource: string;
  scope: string;
  clientId: string;
  clientJwk: Record<string, unknown>;
  signingJwk: Record<string, unknown>;
}

const spec = JSON.parse(process.env.BENCH_PEER ?? '') as PeerSpec;

const provider = new Provider(spec.issuer, {
  clients: [
    {
      client_id: spec.clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'EdDSA',
      // Its only key is Ed25519; the default (RS256) would have none to sign with.
      id_token_signed_response_alg: 'EdDSA',
      jwks: { keys: [spec.clientJwk] },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: spec.scope,
    },
  ],
  jwks: { keys: [spec.signingJwk] },
  scopes: [spec.scope],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => spec.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: spec.scope,
        audience: spec.resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'EdDSA' } },
      }),
    },
  },
});
// Each request's failure would otherwise go unseen; the bench counts non-2xx answers.
provider.on('server_error', (_ctx: unknown, err: Error) => console.error(`peer: ${err.message}`));

provider.listen(spec.port, () => console.log('ready'));
