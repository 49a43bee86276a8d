/** GET /.well-known/jwks.json: public keys, cacheable for a few minutes. */
import { Hono } from 'hono';
import type { KeyStore } from './key-store.ts';

/**
 * Five minutes is safe because the next key is published a whole rotation before
 * it signs anything, and retired keys linger past the longest token lifetime.
 */
const JWKS_MAX_AGE = 300;

export function jwksRoutes(keys: KeyStore): Hono {
  const app = new Hono();
  app.get('/', async (c) =>
    c.json(await keys.jwks(), 200, {
      'content-type': 'application/jwk-set+json',
      'cache-control': `public, max-age=${JWKS_MAX_AGE}, stale-while-revalidate=60`,
    }),
  );
  return app;
}
