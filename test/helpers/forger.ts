/**
 * An attacker's tool for WebAuthn tests: given a real passkey's private key
 * (exported from Chromium's virtual authenticator over CDP), it signs assertions
 * with whatever origin, RP ID, flags and counter the test chooses. A faithful
 * assertion from it must be accepted (tests check that first), so every refusal
 * it provokes is the broker's own check, not a broken forgery.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { base64url } from 'jose';
import type { VirtualAuthenticator } from './browser.ts';

export interface ExportedPasskey {
  /** base64url, as the broker stores it. */
  id: string;
  key: KeyObject;
  userHandle: string | undefined;
  signCount: number;
}

/** Reads the authenticator's only credential, private key included (CDP WebAuthn.getCredentials). */
export async function exportPasskey(authenticator: VirtualAuthenticator): Promise<ExportedPasskey> {
  const { credentials } = (await authenticator.cdp.send('WebAuthn.getCredentials', {
    authenticatorId: authenticator.authenticatorId,
  })) as {
    credentials: {
      credentialId: string;
      privateKey: string;
      userHandle?: string;
      signCount: number;
    }[];
  };
  const [c] = credentials;
  if (!c) throw new Error('the virtual authenticator holds no credential');
  // CDP sends binary fields as standard base64.
  const b64 = (s: string) => Buffer.from(s, 'base64');
  return {
    id: base64url.encode(b64(c.credentialId)),
    key: createPrivateKey({ key: b64(c.privateKey), format: 'der', type: 'pkcs8' }),
    userHandle: c.userHandle ? base64url.encode(b64(c.userHandle)) : undefined,
    signCount: c.signCount,
  };
}

export interface Forgery {
  challenge: string;
  origin: string;
  rpId: string;
  counter: number;
  /** User present and user verified; clear `uv` to forge an assertion without verification. */
  up?: boolean;
  uv?: boolean;
  type?: string;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** An AuthenticationResponseJSON as @simplewebauthn/browser would send it. */
export function forgeAssertion(passkey: ExportedPasskey, f: Forgery) {
  const clientDataJSON = Buffer.from(
    JSON.stringify({
      type: f.type ?? 'webauthn.get',
      challenge: f.challenge,
      origin: f.origin,
      crossOrigin: false,
    }),
  );
  const flags = (f.up === false ? 0 : 0x01) | (f.uv === false ? 0 : 0x04);
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(f.counter);
  const authenticatorData = Buffer.concat([sha256(f.rpId), Buffer.from([flags]), counter]);
  const signed = Buffer.concat([authenticatorData, sha256(clientDataJSON)]);
  // Chromium creates Ed25519 credentials when the options list EdDSA first; ES256 signs DER.
  const signature =
    passkey.key.asymmetricKeyType === 'ed25519'
      ? sign(null, signed, passkey.key)
      : sign('sha256', signed, { key: passkey.key, dsaEncoding: 'der' });
  return {
    id: passkey.id,
    rawId: passkey.id,
    type: 'public-key' as const,
    clientExtensionResults: {},
    response: {
      clientDataJSON: base64url.encode(clientDataJSON),
      authenticatorData: base64url.encode(authenticatorData),
      signature: base64url.encode(signature),
      ...(passkey.userHandle ? { userHandle: passkey.userHandle } : {}),
    },
  };
}
