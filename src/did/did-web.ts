/**
 * The broker's own `did:web` identifier, derived from PUBLIC_URL (did:web method
 * spec §3.1–3.2): the host, with a port's colon percent-encoded as `%3A`, then each
 * path segment after a `:`. Verifiers resolve it to `https://<host>/.well-known/did.json`
 * (no path) or `https://<host>/<path>/did.json`; which of the two the app serves is
 * decided here too, so the identifier and the route can never disagree.
 */

export interface DidWeb {
  /** e.g. `did:web:broker.example` or `did:web:localhost%3A8787`. */
  did: string;
  /** Where the document lives, relative to PUBLIC_URL (the app's own root). */
  documentPath: '/.well-known/did.json' | '/did.json';
}

export function didWebFor(publicUrl: string): DidWeb {
  const url = new URL(publicUrl);
  // The spec percent-encodes only the port's colon; a host never contains one otherwise
  // (IPv6 literals are not valid did:web hosts, and PUBLIC_URL is an operator's choice).
  const host = url.port ? `${url.hostname}%3A${url.port}` : url.hostname;
  const segments = url.pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => encodeURIComponent(decodeURIComponent(s)));
  return {
    did: ['did:web', host, ...segments].join(':'),
    documentPath: segments.length === 0 ? '/.well-known/did.json' : '/did.json',
  };
}

/** A verification method id (a DID URL) for one of the broker's signing keys. */
export const verificationMethodId = (did: string, kid: string): string =>
  `${did}#${encodeURIComponent(kid)}`;
