/**
 * Static files for the pages (stylesheet, browser scripts), behind a small interface so
 * that the app stays runtime-agnostic: Node reads them from disk (src/node/assets.ts),
 * a Workers build would bundle them.
 */
import { Hono } from 'hono';
import { OAuthError } from '../oauth/errors.ts';

export interface Asset {
  body: string;
  /** The Content-Type header value, with its charset. */
  type: string;
}

export interface AssetStore {
  /** The named asset, or undefined when there is no such asset. Names are flat: no folders. */
  get(name: string): Promise<Asset | undefined>;
}

/**
 * What an asset name may look like: one flat file name, lower case, with a known extension.
 * Checked before any store sees the name, so `..`, slashes (even percent-encoded, which
 * Hono decodes in params) and odd extensions never reach a file system.
 */
export const ASSET_NAME = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.(css|js)$/;

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
};

/** The Content-Type for an asset name, or undefined for a name we do not serve. */
export function assetType(name: string): string | undefined {
  if (!ASSET_NAME.test(name)) return undefined;
  return TYPES[name.slice(name.lastIndexOf('.') + 1)];
}

/**
 * Asset URLs are not fingerprinted, so caches may keep a file only briefly: a deploy
 * shows up within five minutes and a page never runs a script much older than itself.
 */
const CACHE_CONTROL = 'public, max-age=300';

/** `GET /assets/:name`. Unknown names get the same JSON 404 as any unknown path. */
export function assetRoutes(store: AssetStore): Hono {
  const routes = new Hono();
  routes.get('/assets/:name', async (c) => {
    const name = c.req.param('name');
    const asset = assetType(name) ? await store.get(name) : undefined;
    if (!asset) throw new OAuthError('not_found', 'no such asset', 404);
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': CACHE_CONTROL });
  });
  return routes;
}
