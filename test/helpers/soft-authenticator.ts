/**
 * A software passkey for in-process WebAuthn tests: one ECDSA P-256 (ES256) key
 * made with Web Crypto, answering registration and authentication options the
 * way a browser plus platform authenticator would (WebAuthn §6.1 authenticator
 * data, §6.5.4 `none` attestation, §6.3.3 assertion signature). Every field an
 * attacker controls can be overridden — origin, RP ID, flags, counter, challenge
 * — and the result is still correctly signed, so a refusal in a test is the
 * broker's own check and not a broken signature. `resign` re-signs a response
 * after a test has edited it by hand.
 */
import { encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { base64url } from 'jose';

/** What a test may change in one ceremony; unset fields follow the options honestly. */
export interface Ceremony {
  /** clientDataJSON.origin; defaults to the authenticator's origin. */
  origin?: string;
  /** Hashed into authenticatorData; defaults to the options' RP ID. */
  rpId?: string;
  /** Answer this challenge instead of the options' one. */
  challenge?: string;
  /** User present / user verified flags (both set by default). */
  up?: boolean;
  uv?: boolean;
  /** Signature counter to report; by default the stored one, plus one for an assertion. */
  counter?: number;
  /** clientDataJSON.type; defaults to webauthn.create / webauthn.get. */
  type?: string;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

const utf8 = (s: string) => new TextEncoder().encode(s);
// Copying into a fresh Uint8Array gives Web Crypto the ArrayBuffer-backed view its types ask for.
const sha256 = async (data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(data)));
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

/** Web Crypto signs ECDSA as r‖s (IEEE P1363); WebAuthn wants an ASN.1 DER SEQUENCE of INTEGERs. */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.slice(i);
    // A leading 1 bit would make the INTEGER negative: prefix a zero byte.
    if ((v[0] ?? 0) & 0x80) v = concat(new Uint8Array([0]), v);
    return concat(new Uint8Array([0x02, v.length]), v);
  };
  const body = concat(integer(raw.slice(0, 32)), integer(raw.slice(32)));
  return concat(new Uint8Array([0x30, body.length]), body);
}

export class SoftAuthenticator {
  /** The signature counter this authenticator believes it is at. */
  counter = 0;
  /** The user handle it stored at registration (base64url), returned by discoverable sign-in. */
  userHandle: string | undefined;
  /** RP ID the credential was created for; assertions use it unless told otherwise. */
  rpId: string | undefined;

  private constructor(
    readonly credentialId: string,
    private readonly keys: CryptoKeyPair,
    /** The origin a browser would put in clientDataJSON. */
    readonly origin: string,
  ) {}

  static async create(origin: string): Promise<SoftAuthenticator> {
    const keys = await crypto.subtle.generateKey(ES256, true, ['sign', 'verify']);
    const id = base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
    return new SoftAuthenticator(id, keys, origin);
  }

  /** COSE_Key (RFC 9053 §7.1): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y. */
  private async coseKey(): Promise<Uint8Array> {
    const jwk = await crypto.subtle.exportKey('jwk', this.keys.publicKey);
    return encodeCBOR(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, base64url.decode(jwk.x ?? '')],
        [-3, base64url.decode(jwk.y ?? '')],
      ]),
    );
  }

  private clientData(kind: 'create' | 'get', challenge: string, c: Ceremony): string {
    const json = JSON.stringify({
      type: c.type ?? `webauthn.${kind}`,
      challenge: c.challenge ?? challenge,
      origin: c.origin ?? this.origin,
      crossOrigin: false,
    });
    return base64url.encode(utf8(json));
  }

  private async authData(rpId: string, flags: number, counter: number, tail = new Uint8Array()) {
    return concat(await sha256(utf8(rpId)), new Uint8Array([flags]), u32(counter), tail);
  }

  private flags(c: Ceremony): number {
    return (c.up === false ? 0 : FLAG_UP) | (c.uv === false ? 0 : FLAG_UV);
  }

  /** navigator.credentials.create(), as @simplewebauthn/browser would send its result. */
  async register(
    options: PublicKeyCredentialCreationOptionsJSON,
    c: Ceremony = {},
  ): Promise<RegistrationResponseJSON> {
    const rpId = c.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const counter = c.counter ?? this.counter;
    const rawId = base64url.decode(this.credentialId);
    // Attested credential data (§6.5.1): AAGUID (zeros for software), id length, id, COSE key.
    const idLength = new Uint8Array([rawId.length >> 8, rawId.length & 0xff]);
    const attested = concat(new Uint8Array(16), idLength, rawId, await this.coseKey());
    const authData = await this.authData(rpId, this.flags(c) | FLAG_AT, counter, attested);
    const attestationObject = encodeCBOR(
      new Map<string, CBORType>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, CBORType>()],
        ['authData', authData],
      ]),
    );
    this.rpId = rpId;
    this.userHandle = options.user.id;
    this.counter = counter;
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData('create', options.challenge, c),
        attestationObject: base64url.encode(attestationObject),
        transports: ['internal'],
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get() for discoverable or allow-listed options. */
  async assert(
    options: Pick<PublicKeyCredentialRequestOptionsJSON, 'challenge' | 'rpId'>,
    c: Ceremony = {},
  ): Promise<AuthenticationResponseJSON> {
    const rpId = c.rpId ?? options.rpId ?? this.rpId ?? new URL(this.origin).hostname;
    const counter = c.counter ?? this.counter + 1;
    this.counter = counter;
    const authenticatorData = base64url.encode(await this.authData(rpId, this.flags(c), counter));
    const clientDataJSON = this.clientData('get', options.challenge, c);
    return this.resign({
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData,
        signature: '',
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    });
  }

  /** Signs authenticatorData ‖ SHA-256(clientDataJSON) (§6.3.3 step 11) with this key. */
  async resign(response: AuthenticationResponseJSON): Promise<AuthenticationResponseJSON> {
    const { authenticatorData, clientDataJSON } = response.response;
    const signed = concat(
      base64url.decode(authenticatorData),
      await sha256(base64url.decode(clientDataJSON)),
    );
    const raw = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      this.keys.privateKey,
      signed,
    );
    const signature = base64url.encode(derSignature(new Uint8Array(raw)));
    return { ...response, response: { ...response.response, signature } };
  }
}
