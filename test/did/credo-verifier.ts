/**
 * An independent VC verifier: @credo-ts/core (OpenWallet Foundation's Credo) checking
 * a VCDM 2.0 `vc+jwt` the way a wallet or relying party would. Credo parses the
 * credential and validates its data model and validity window, resolves the issuer's
 * did:web, picks the verification method the JWS `kid` names (it must be an
 * assertionMethod of the issuer), and checks the issuer is that method's controller.
 *
 * Two seams are ours, because Credo leaves them to the host application:
 * - did:web resolution goes to the in-process app instead of the network. The URL is
 *   derived from the DID exactly as the did:web spec says (https, `%3A` → `:`, path
 *   segments, `/.well-known/did.json` when there is no path), so a wrong DID or a
 *   document at the wrong path still fails.
 * - Credo core ships no key-management backend (Askar or Node's come as separate
 *   packages); signature checks go to a verify-only backend on Web Crypto.
 */
import { EventEmitter } from 'node:events';
import {
  Agent,
  DependencyManager,
  DidDocument,
  DidsModule,
  InjectionSymbols,
  JsonTransformer,
  Kms,
  W3cV2JwtCredentialService,
  type AgentContext,
  type DidResolutionResult,
  type DidResolver,
  type W3cV2VerifyCredentialResult,
} from '@credo-ts/core';

export type Fetcher = (url: string) => Promise<Response>;

/** did:web method spec §3.2 (Read): the HTTPS URL of a DID's document. */
export function didWebDocumentUrl(did: string): string {
  const [, method, host, ...path] = did.split(':');
  if (method !== 'web' || host === undefined) throw new Error(`not a did:web: ${did}`);
  const origin = `https://${decodeURIComponent(host)}`;
  return path.length === 0
    ? `${origin}/.well-known/did.json`
    : `${origin}/${path.map(decodeURIComponent).join('/')}/did.json`;
}

class InProcessWebDidResolver implements DidResolver {
  readonly supportedMethods = ['web'];
  // Never cache: tests rotate keys and expect the next resolution to see it.
  readonly allowsCaching = false;
  readonly allowsLocalDidRecord = false;
  constructor(private readonly fetcher: Fetcher) {}

  async resolve(_context: AgentContext, did: string): Promise<DidResolutionResult> {
    const res = await this.fetcher(didWebDocumentUrl(did));
    if (res.status !== 200) {
      return {
        didDocument: null,
        didDocumentMetadata: {},
        didResolutionMetadata: { error: 'notFound', message: `HTTP ${res.status}` },
      };
    }
    const json = (await res.json()) as Record<string, unknown>;
    return {
      didDocument: JsonTransformer.fromJSON(json, DidDocument),
      didDocumentMetadata: {},
      didResolutionMetadata: { contentType: res.headers.get('content-type') ?? '' },
    };
  }
}

/** JWA `alg` → Web Crypto import and verify parameters. */
const WEB_CRYPTO: Record<
  string,
  {
    importAs: Parameters<typeof crypto.subtle.importKey>[2];
    verifyAs: Parameters<typeof crypto.subtle.verify>[0];
  }
> = {
  EdDSA: { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' } },
  Ed25519: { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' } },
  ES256: {
    importAs: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyAs: { name: 'ECDSA', hash: 'SHA-256' },
  },
  RS256: {
    importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    verifyAs: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

const unsupported = (what: string) => new Error(`the test KMS only verifies; ${what} refused`);

class WebCryptoVerifyOnlyKms implements Kms.KeyManagementService {
  readonly backend = 'webcrypto-verify-only';
  isOperationSupported(_context: AgentContext, operation: Kms.KmsOperation): boolean {
    return operation.operation === 'verify';
  }
  async verify(
    _context: AgentContext,
    options: Kms.KmsVerifyOptions,
  ): Promise<Kms.KmsVerifyReturn> {
    if (!('publicJwk' in options.key) || !options.key.publicJwk) throw unsupported('key ids');
    const params = WEB_CRYPTO[options.algorithm];
    if (!params) throw unsupported(`algorithm ${options.algorithm}`);
    const publicJwk = options.key.publicJwk;
    const key = await crypto.subtle.importKey(
      'jwk',
      publicJwk as JsonWebKey,
      params.importAs,
      false,
      ['verify'],
    );
    const ok = await crypto.subtle.verify(
      params.verifyAs,
      key,
      new Uint8Array(options.signature),
      new Uint8Array(options.data),
    );
    return ok ? { verified: true, publicJwk } : { verified: false };
  }
  getPublicKey(): Promise<null> {
    return Promise.resolve(null);
  }
  createKey(): never {
    throw unsupported('createKey');
  }
  importKey(): never {
    throw unsupported('importKey');
  }
  deleteKey(): never {
    throw unsupported('deleteKey');
  }
  sign(): never {
    throw unsupported('sign');
  }
  encrypt(): never {
    throw unsupported('encrypt');
  }
  decrypt(): never {
    throw unsupported('decrypt');
  }
  randomBytes(): never {
    throw unsupported('randomBytes');
  }
}

export interface CredoVerifier {
  verify(vcJwt: string): Promise<W3cV2VerifyCredentialResult>;
}

export function credoVerifier(fetcher: Fetcher): CredoVerifier {
  const dependencies = new DependencyManager();
  // Verification reads no records; Agent insists a storage service exists all the same.
  dependencies.registerInstance(InjectionSymbols.StorageService, {});
  const agent = new Agent(
    {
      config: {},
      dependencies: {
        FileSystem: class {} as never,
        EventEmitterClass: EventEmitter,
        fetch,
        WebSocketClass: class {} as never,
      },
      modules: {
        dids: new DidsModule({ resolvers: [new InProcessWebDidResolver(fetcher)], registrars: [] }),
        kms: new Kms.KeyManagementModule({ backends: [new WebCryptoVerifyOnlyKms()] }),
      },
    },
    dependencies,
  );
  const service = agent.dependencyManager.resolve(W3cV2JwtCredentialService);
  return { verify: (vcJwt) => service.verifyCredential(agent.context, { credential: vcJwt }) };
}
