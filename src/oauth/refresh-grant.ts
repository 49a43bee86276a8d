/**
 * grant_type=refresh_token (RFC 6749 §6) as the per-task mint: `refresh_token` is
 * the grant handle the agent got when it redeemed the CIBA approval. Each call
 * returns one access token for exactly one granted API (`resource`, RFC 8707),
 * with `scope` ⊆ what the person granted for it and an optional `agent_task`
 * (RFC 9396) naming the task. The domain logic is mintTaskToken; this file only
 * reads the form.
 *
 * No new refresh_token is returned: the handle stays valid for the grant's life.
 * Rotation (RFC 9700 §4.14.2) protects public clients whose refresh tokens can
 * leak and be replayed; agents are confidential clients authenticating with
 * private_key_jwt, to which the handle is bound (and to a DPoP key when the grant
 * is DPoP-bound), so a stolen handle is useless on its own (RFC 9700 §4.14.2
 * allows sender-constrained refresh tokens instead of rotation). A rotating handle
 * would also make concurrent per-task mints race each other for no gain.
 */
import type { Deps } from '../deps.ts';
import { parseAuthorizationDetails } from '../delegation/authorization-details.ts';
import { scopeNameSchema } from '../registry/validate.ts';
import type { TaskClaim } from '../tokens/access-token.ts';
import { ACCESS_TOKEN_TYPE, mintTaskToken, type TaskTokenResponse } from '../tokens/mint-task.ts';
import { VC_TOKEN_TYPE } from '../tokens/vc.ts';
import type { AuthenticatedClient } from './client-auth.ts';
import { OAuthError } from './errors.ts';
import type { OAuthForm } from './form.ts';
import type { Services } from '../services.ts';
import { statusEntry } from '../revocation/status-claim.ts';
import { tenantDb } from '../db/tenancy.ts';

export const REFRESH_GRANT_TYPE = 'refresh_token';

/**
 * What the token endpoint learnt from a valid DPoP proof (RFC 9449 §4.3), if the
 * request carried one. The DPoP module verifies the proof; this grant only binds.
 */
export interface DpopProofResult {
  /** RFC 7638 thumbprint of the proof's public key. */
  jkt: string;
}

interface TaskDetails {
  task: TaskClaim | undefined;
  requestedTtl: number | undefined;
  raw: Record<string, unknown>[] | undefined;
}

/**
 * The handler. Its third parameter is the DPoP seam: the token endpoint passes the
 * verified proof's thumbprint when there was one, and the mint binds to it.
 */
export function refreshGrant(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  services: Pick<Services, 'statusIndex' | 'policy'>,
) {
  return async (
    form: OAuthForm,
    client: AuthenticatedClient,
    dpop?: DpopProofResult,
  ): Promise<TaskTokenResponse & Record<string, unknown>> => {
    if (client.kind !== 'agent') {
      throw new OAuthError('unauthorized_client', 'only agents may mint task tokens');
    }
    const handle = form.get('refresh_token');
    if (handle === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
    const requestedType = form.get('requested_token_type');
    if (
      requestedType !== undefined &&
      requestedType !== ACCESS_TOKEN_TYPE &&
      requestedType !== VC_TOKEN_TYPE
    ) {
      throw new OAuthError(
        'invalid_request',
        `requested_token_type ${requestedType} is not supported`,
      );
    }
    const details = taskDetails(form.get('authorization_details'), deps.config);
    const issuer = deps.config.publicUrl;
    const signer = await deps.keys.signer();
    return services.statusIndex.withPosition(client.tenantId, async (pos) => ({
      ...(await mintTaskToken(tenantDb(deps.database.db, client.tenantId), {
        clientId: client.clientId,
        tenantId: client.tenantId,
        handle,
        resources: form.getAll('resource'),
        scopes: parseScope(form.get('scope')),
        task: details.task,
        requestedTtl: details.requestedTtl,
        authorizationDetails: details.raw,
        dpopJkt: dpop?.jkt,
        form: requestedType === VC_TOKEN_TYPE ? 'vc' : 'access',
        now: deps.clock.now(),
        issuer,
        accessTokenTtl: deps.config.accessTokenTtl,
        signer,
        status: statusEntry(issuer, pos),
        overrunThreshold: deps.config.overrunThreshold,
        policy: services.policy,
        escalation: { expiresIn: deps.config.cibaRequestTtl, interval: deps.config.cibaInterval },
      })),
    }));
  };
}

/** RFC 6749 §3.3 syntax only; whether the scopes were granted is the mint's question. */
function parseScope(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const tokens = raw.split(' ');
  for (const token of tokens) {
    if (!scopeNameSchema.safeParse(token).success) {
      throw new OAuthError(
        'invalid_scope',
        `scope ${JSON.stringify(token)} is not a valid scope token`,
      );
    }
  }
  return [...new Set(tokens)];
}

/**
 * One `agent_task` entry describing this task (the CIBA request's parser and
 * limits). `duration` is refused: it sets how long a grant lasts, and a task token
 * cannot change its grant; `max_token_ttl` may only shorten this token's life.
 */
function taskDetails(raw: string | undefined, limits: Deps['config']): TaskDetails {
  if (raw === undefined) return { task: undefined, requestedTtl: undefined, raw: undefined };
  const [detail] = parseAuthorizationDetails(raw, limits);
  if (!detail) throw new OAuthError('invalid_authorization_details', 'no agent_task was given');
  if (detail.duration !== undefined) {
    throw new OAuthError(
      'invalid_authorization_details',
      'duration applies to a grant, not to a task token; use max_token_ttl',
    );
  }
  return {
    task: {
      ...(detail.identifier === undefined ? {} : { id: detail.identifier }),
      purpose: detail.purpose,
    },
    requestedTtl: detail.max_token_ttl,
    raw: [{ ...detail }],
  };
}
