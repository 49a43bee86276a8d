/** The WebAuthn relying party, derived from PUBLIC_URL: one RP for every tenant. */
import type { Config } from '../config.ts';

export interface RelyingParty {
  /** The host name, e.g. `localhost` or `broker.example.com` (WebAuthn §5.1.2). */
  rpID: string;
  /** Scheme, host and port exactly as browsers report them in clientDataJSON. */
  origin: string;
  rpName: string;
}

export function relyingParty(config: Pick<Config, 'publicUrl'>): RelyingParty {
  const url = new URL(config.publicUrl);
  return { rpID: url.hostname, origin: url.origin, rpName: 'Mandate' };
}
