/**
 * grant_type=urn:openid:params:grant-type:ciba (OpenID CIBA Core §10.1): the
 * agent polls with its `auth_req_id`. The answer is one of the CIBA errors
 * until the person decides, then the grant handle (`refresh_token`) and a first
 * access token for one granted API: the `resource` parameter (RFC 8707) picks
 * which, defaulting to the first one granted.
 */
import type { Deps } from '../deps.ts';
import { pollCibaRequest, type CibaTokenResponse } from '../delegation/poll.ts';
import type { StatusIndexAllocator } from '../revocation/status-index.ts';
import { statusEntry } from '../revocation/status-claim.ts';
import { OAuthError } from './errors.ts';
import type { GrantHandler } from './grant-handler.ts';
import { tenantDb } from '../db/tenancy.ts';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';

export function cibaGrant(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  statusIndex: StatusIndexAllocator,
): GrantHandler {
  return async (form, client, dpop): Promise<CibaTokenResponse & Record<string, unknown>> => {
    if (client.kind !== 'agent') {
      throw new OAuthError('unauthorized_client', 'only agents may use the CIBA grant');
    }
    const authReqId = form.get('auth_req_id');
    if (authReqId === undefined) throw new OAuthError('invalid_request', 'auth_req_id is required');
    const resources = form.getAll('resource');
    if (resources.length > 1) {
      throw new OAuthError('invalid_target', 'an access token is for exactly one resource');
    }
    const issuer = deps.config.publicUrl;
    const signer = await deps.keys.signer();
    // A pending poll hands its position back (authorization_pending is a refusal).
    return statusIndex.withPosition(client.tenantId, async (pos) => ({
      ...(await pollCibaRequest(tenantDb(deps.database.db, client.tenantId), {
        clientId: client.clientId,
        authReqId,
        resource: resources[0],
        now: deps.clock.now(),
        issuer,
        accessTokenTtl: deps.config.accessTokenTtl,
        signer,
        status: statusEntry(issuer, pos),
        dpopJkt: dpop?.jkt,
      })),
    }));
  };
}
