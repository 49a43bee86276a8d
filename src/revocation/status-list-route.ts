/**
 * GET <issuer>/status/{id}: the Token Status List (draft-ietf-oauth-status-list §8.1,
 * `application/statuslist+jwt`), and GET …/{id}/credential: the same bits as a W3C
 * BitstringStatusListCredential. Public: a verifier holding a token may fetch its
 * list; a list names no tenant and shows only bits. Built per request from the
 * token rows, so it is never staler than the database; caches keep it `ttl` seconds.
 */
import { Hono, type Context } from 'hono';
import type { Deps } from '../deps.ts';
import { OAuthError } from '../oauth/errors.ts';
import { STATUS_LIST_PATH } from './status-claim.ts';
import {
  findStatusList,
  revokedIndices,
  signBitstringStatusListCredential,
  signStatusListToken,
  STATUS_LIST_MEDIA_TYPE,
  type StatusListTokenInput,
} from './status-list.ts';
import { statusListTenant } from '../db/lookups.ts';
import { tenantDb } from '../db/tenancy.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function statusListRoutes(deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>): Hono {
  const app = new Hono();
  const input = async (c: Context): Promise<StatusListTokenInput> => {
    const id = c.req.param('id') ?? '';
    const tenantId = UUID.test(id) ? await statusListTenant(deps.database.db, id) : undefined;
    // The list's URL is public; its tenant is found from it, then read in that scope.
    const db = tenantId === undefined ? undefined : tenantDb(deps.database.db, tenantId);
    const list = db && (await findStatusList(db, id));
    if (!db || !list) throw new OAuthError('not_found', 'no such status list', 404);
    return {
      issuer: deps.config.publicUrl,
      list,
      revoked: await revokedIndices(db, list.id),
      now: deps.clock.now(),
      ttl: deps.config.statusListTtl,
    };
  };
  const headers = (type: string) => ({
    'content-type': type,
    'cache-control': `public, max-age=${deps.config.statusListTtl}`,
  });
  app.get(`${STATUS_LIST_PATH}/:id`, async (c) => {
    const token = await signStatusListToken(await deps.keys.signer(), await input(c));
    return c.body(token, 200, headers(STATUS_LIST_MEDIA_TYPE));
  });
  app.get(`${STATUS_LIST_PATH}/:id/credential`, async (c) => {
    const vc = await signBitstringStatusListCredential(await deps.keys.signer(), await input(c));
    return c.body(vc, 200, headers('application/vc+jwt'));
  });
  return app;
}
