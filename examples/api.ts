/**
 * A small backend API protected by Mandate: a list of repositories that an agent may
 * read with `repo:read`, and a delete that needs `repo:admin`. Tokens are verified
 * offline against the broker's JWKS by `mandate/verifier` (DPoP-bound ones with their
 * proof); a request beyond its token's scope is answered 403 insufficient_scope and
 * reported to the broker, which revokes the token, and the grant with it.
 *
 * Run on its own (after `mandate api add`, see examples/README.md):
 *
 *   MANDATE_ISSUER=http://localhost:8787 API_AUDIENCE=http://localhost:8788/ \
 *   API_CLIENT_ID=api_… API_KEY_FILE=api.key.json PORT=8788 npx tsx examples/api.ts
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { CryptoKey, JWK } from 'jose';
import {
  createVerifier,
  mandateAuth,
  requireScope,
  type MandateEnv,
  type Verifier,
} from 'mandate/verifier';

export interface RepoApiOptions {
  /** The broker's issuer URL. */
  issuer: string;
  /** This API's audience, as registered with `mandate api add --audience`. */
  audience: string;
  /** The API's client id and private key, for overrun reports and the revocation stream. */
  clientId: string;
  privateKey: CryptoKey | JWK;
  /** One line per request, for a log or the demo's narration. */
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

export interface RepoApi {
  app: Hono<MandateEnv>;
  verifier: Verifier;
}

export function createRepoApi(options: RepoApiOptions): RepoApi {
  const log = options.log ?? ((line: string) => console.log(line));
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.audience,
    client: { clientId: options.clientId, privateKey: options.privateKey },
    onError: (err) => log(`verifier: ${err instanceof Error ? err.message : String(err)}`),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const repos = new Map([
    ['mandate', { id: 'mandate', stars: 42 }],
    ['website', { id: 'website', stars: 7 }],
  ]);

  const app = new Hono<MandateEnv>();
  app.use(async (c, next) => {
    await next();
    const who = c.var.mandate?.claims.act?.sub;
    log(`${c.req.method} ${c.req.path} → ${c.res.status}${who ? ` (agent ${who})` : ''}`);
  });
  // Hono's `/repos/*` matches `/repos` itself too.
  app.use('/repos/*', mandateAuth(verifier));

  app.get('/repos', requireScope('repo:read'), (c) =>
    c.json({ person: c.var.mandate.claims.sub, repos: [...repos.values()] }),
  );
  app.post('/repos/:id/delete', requireScope('repo:admin'), (c) => {
    const id = c.req.param('id');
    if (!repos.delete(id)) return c.json({ error: 'not_found' }, 404);
    return c.json({ deleted: id });
  });
  return { app, verifier };
}

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`set ${name} (see examples/README.md)`);
    return value;
  };
  const port = Number(process.env.PORT ?? 8788);
  const privateKey = JSON.parse(await readFile(env('API_KEY_FILE'), 'utf8')) as JWK;
  const { app, verifier } = createRepoApi({
    issuer: env('MANDATE_ISSUER'),
    audience: env('API_AUDIENCE'),
    clientId: env('API_CLIENT_ID'),
    privateKey,
  });
  await verifier.ready();
  serve({ fetch: app.fetch, port, hostname: 'localhost' }, () =>
    console.log(`repo API on http://localhost:${port}/`),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
