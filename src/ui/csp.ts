/**
 * Security headers for every HTML page. The policy allows only our own scripts,
 * styles and fetches: no inline script or style anywhere, so an injected tag cannot
 * run, and no framing, so a page cannot be overlaid to trick a passkey approval.
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
].join('; ');

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
