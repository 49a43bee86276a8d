/**
 * Reading the credentials off a request: the Authorization header (RFC 6750 §2.1
 * for Bearer, RFC 9449 §7.1 for DPoP) and the DPoP proof header.
 */
import { VerifierError, type AuthScheme } from './errors.ts';

/**
 * A request as the verifier sees it: any framework can build one.
 *
 * @example
 * await verifier.verifyRequest({ method: req.method, url: req.url, headers: req.headers });
 */
export interface VerifierRequest {
  /** The HTTP method, upper case as sent. */
  method: string;
  /**
   * The absolute URL the client called: DPoP proofs name it in `htu`. Behind a
   * proxy that rewrites the host or scheme, pass the public URL, not the internal one.
   */
  url: string;
  headers: Headers | Record<string, string | undefined>;
}

export interface Credentials {
  scheme: AuthScheme;
  token: string;
  /** The DPoP header, if any; several headers arrive joined by ", " and are refused later. */
  proof: string | undefined;
}

/** No JWT we issue is anywhere near this; it bounds the work a stranger can cause. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export function header(req: VerifierRequest, name: string): string | undefined {
  const h = req.headers;
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const record = h as Record<string, string | undefined>;
  const direct = record[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(record)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function credentialsOf(req: VerifierRequest): Credentials {
  const authorization = header(req, 'authorization');
  if (authorization === undefined || authorization.trim() === '') {
    throw new VerifierError('ERR_NO_TOKEN', 'invalid_request', 'no access token was sent', {
      status: 401,
    });
  }
  // String operations rather than regular expressions: this runs on every request.
  const value = authorization.trim();
  const space = value.indexOf(' ');
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') {
    // Basic, Digest, a cookie-like value: not credentials this API understands.
    throw new VerifierError(
      'ERR_NO_TOKEN',
      'invalid_request',
      'the Authorization header must use the Bearer or DPoP scheme',
      { status: 401 },
    );
  }
  const normalised: AuthScheme = scheme === 'dpop' ? 'DPoP' : 'Bearer';
  const token = space === -1 ? '' : value.slice(space + 1).trimStart();
  // One token68 (RFC 9110 §11.4): a comma or space means several values were joined.
  // Its characters are left to the JWS parser, which accepts base64url and dots only.
  if (token === '' || token.length > MAX_TOKEN_LENGTH || /[\s,]/.test(token)) {
    throw new VerifierError(
      'ERR_AUTHORIZATION_MALFORMED',
      'invalid_request',
      `the Authorization header must carry exactly one ${normalised} token`,
      { scheme: normalised },
    );
  }
  return { scheme: normalised, token, proof: header(req, 'dpop') };
}
