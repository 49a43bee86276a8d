/**
 * GET the broker's did:web document (the DID-resolution media type, RFC-style
 * `application/did+json`), at the path did:web derives from PUBLIC_URL. Cacheable
 * like the JWKS it mirrors, for the same reason (see src/keys/routes.ts).
 */
import { Hono } from 'hono';
import type { KeyStore } from '../keys/key-store.ts';
import { didWebFor } from './did-web.ts';
import { didDocument } from './document.ts';

const DID_DOCUMENT_MAX_AGE = 300;

export function didRoutes(publicUrl: string, keys: KeyStore): Hono {
  const { did, documentPath } = didWebFor(publicUrl);
  const app = new Hono();
  app.get(documentPath, async (c) =>
    c.json(didDocument(did, await keys.jwks()), 200, {
      'content-type': 'application/did+json',
      'cache-control': `public, max-age=${DID_DOCUMENT_MAX_AGE}, stale-while-revalidate=60`,
    }),
  );
  return app;
}
