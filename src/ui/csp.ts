/**
 * Security headers: a few for every response of the broker, and a strict set for
 * every HTML page. The page policy allows only our own scripts, styles and fetches:
 * no inline script or style anywhere, so an injected tag cannot run, and no framing,
 * so a page cannot be overlaid to trick a passkey approval.
 */
import type { MiddlewareHandler } from 'hono';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  // Trusted Types: no string ever reaches a DOM sink such as innerHTML, so none may
  // (our scripts and the WebAuthn bundle use none); an injected script gets no sink either.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/**
 * For everything that is not a page (JSON, JWTs, event streams, assets): a browser
 * that opens one as a document runs nothing in it and frames it nowhere (OWASP's
 * REST advice), so a reflected value in an error cannot become a script.
 */
export const NON_PAGE_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/**
 * Browser features no page uses are off for every origin; the pages use WebAuthn, so
 * creating and getting passkeys stays allowed for our own origin (and no frame).
 */
export const PERMISSIONS_POLICY = [
  'accelerometer=()',
  'autoplay=()',
  'bluetooth=()',
  'browsing-topics=()',
  'camera=()',
  'clipboard-read=()',
  'clipboard-write=()',
  'display-capture=()',
  'encrypted-media=()',
  'fullscreen=()',
  'geolocation=()',
  'gyroscope=()',
  'hid=()',
  'identity-credentials-get=()',
  'idle-detection=()',
  'magnetometer=()',
  'microphone=()',
  'midi=()',
  'otp-credentials=()',
  'payment=()',
  'picture-in-picture=()',
  'publickey-credentials-create=(self)',
  'publickey-credentials-get=(self)',
  'screen-wake-lock=()',
  'serial=()',
  'storage-access=()',
  'usb=()',
  'web-share=()',
  'xr-spatial-tracking=()',
].join(', ');

/** Two years, the preload list's minimum; only ever sent when PUBLIC_URL is https. */
const HSTS = 'max-age=63072000; includeSubDomains';

/**
 * Headers for every response, set after the handler (so error answers get them too)
 * and only where the handler set none, so that pages keep their stricter policy:
 * - `nosniff`: a JSON body or a token is never run as a script or rendered as HTML;
 * - `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
 * - COOP and CORP `same-origin`: no other site keeps a handle on our windows or embeds
 *   our responses (JWKS and metadata are fetched with CORS or by servers, unaffected);
 * - `no-referrer`: URLs (an invite's secret) go nowhere;
 * - HSTS only when the issuer is https: over plain http browsers ignore it, and on
 *   `localhost` it would pin a developer's other local servers to https.
 */
export function securityHeaders(publicUrl: string): MiddlewareHandler {
  const headers: [string, string][] = [
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['content-security-policy', NON_PAGE_CONTENT_SECURITY_POLICY],
    ['cross-origin-opener-policy', 'same-origin'],
    ['cross-origin-resource-policy', 'same-origin'],
    ['referrer-policy', 'no-referrer'],
    ['permissions-policy', PERMISSIONS_POLICY],
    ['origin-agent-cluster', '?1'],
    ['x-permitted-cross-domain-policies', 'none'],
    // The legacy XSS auditor is off on purpose: it could be used to blank parts of a page.
    ['x-xss-protection', '0'],
  ];
  if (new URL(publicUrl).protocol === 'https:') headers.push(['strict-transport-security', HSTS]);
  return async (c, next) => {
    await next();
    for (const [name, value] of headers) {
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    }
  };
}

/**
 * Set after the handler runs, so that error pages get them too. Pages show a person's
 * data and carry a CSRF token: `no-store` keeps them out of every cache; `no-referrer`
 * keeps an invite secret in the URL from leaking to anything the page links to.
 */
export function pageSecurity(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
    c.res.headers.set('cache-control', 'no-store');
    c.res.headers.set('referrer-policy', 'no-referrer');
  };
}
