/**
 * The syntax of a backchannel authentication request (OpenID CIBA Core §7.1),
 * checked before anything touches the database. What the names refer to (the
 * person, the APIs, their scopes) is resolved afterwards, in the agent's tenant.
 */
import type { Config } from '../config.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { OAuthForm } from '../oauth/form.ts';
import { audienceSchema, scopeNameSchema } from '../registry/validate.ts';
import { parseAuthorizationDetails, type AgentTaskDetail } from './authorization-details.ts';

export interface BackchannelInput {
  loginHint: string;
  /** Requested scopes, deduplicated, `openid` removed (no ID token is issued). */
  scopes: string[];
  /** RFC 8707 resource indicators, deduplicated, in the order given. */
  resources: string[];
  authorizationDetails: AgentTaskDetail[] | null;
  bindingMessage: string | null;
  /** Seconds the request should stay answerable; null means the configured default. */
  requestedExpiry: number | null;
}

const HINTS = ['login_hint', 'id_token_hint', 'login_hint_token'] as const;
const BINDING_MESSAGE_MAX = 100;
/** The most a policy decision can be asked about (src/policy/request.ts): APIs, and scopes per API. */
export const RESOURCES_MAX = 20;
export const SCOPES_MAX = 200;

export function parseBackchannelInput(
  form: OAuthForm,
  config: Pick<Config, 'cibaRequestTtl' | 'grantMaxTtl' | 'accessTokenMaxTtl'>,
): BackchannelInput {
  const hints = HINTS.filter((h) => form.get(h) !== undefined);
  if (hints.length !== 1) {
    throw new OAuthError(
      'invalid_request',
      'exactly one of login_hint, id_token_hint or login_hint_token is required',
    );
  }
  const loginHint = form.get('login_hint');
  if (loginHint === undefined) {
    throw new OAuthError('invalid_request', `${hints[0]} is not supported; use login_hint`);
  }
  const rawDetails = form.get('authorization_details');
  return {
    loginHint,
    scopes: parseScopes(form.get('scope')),
    resources: parseResources(form.getAll('resource')),
    authorizationDetails:
      rawDetails === undefined ? null : parseAuthorizationDetails(rawDetails, config),
    bindingMessage: parseBindingMessage(form.get('binding_message')),
    requestedExpiry: parseRequestedExpiry(form.get('requested_expiry'), config.cibaRequestTtl),
  };
}

/**
 * RFC 6749 §3.3: space-delimited scope tokens. `openid` is dropped rather than
 * refused: CIBA requires OpenID clients to send it, but the broker issues access
 * tokens for APIs, never ID tokens.
 */
function parseScopes(raw: string | undefined): string[] {
  if (raw === undefined) throw new OAuthError('invalid_request', 'scope is required');
  const tokens = raw.split(' ');
  for (const token of tokens) {
    if (!scopeNameSchema.safeParse(token).success) {
      throw new OAuthError(
        'invalid_scope',
        `scope ${JSON.stringify(token)} is not a valid scope token`,
      );
    }
  }
  const scopes = [...new Set(tokens)].filter((s) => s !== 'openid');
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'no API scope was requested');
  if (scopes.length > SCOPES_MAX) {
    throw new OAuthError('invalid_scope', `at most ${SCOPES_MAX} scopes can be requested at once`);
  }
  return scopes;
}

function parseResources(raw: string[]): string[] {
  if (raw.length === 0) {
    throw new OAuthError('invalid_target', 'at least one resource (an API audience) is required');
  }
  for (const resource of raw) {
    if (!audienceSchema.safeParse(resource).success) {
      throw new OAuthError(
        'invalid_target',
        `resource ${JSON.stringify(resource)} is not an absolute URI without fragment`,
      );
    }
  }
  const resources = [...new Set(raw)];
  if (resources.length > RESOURCES_MAX) {
    throw new OAuthError(
      'invalid_target',
      `at most ${RESOURCES_MAX} resources can be requested at once`,
    );
  }
  return resources;
}

/** Shown to the person beside the agent's own display: short, and no invisible characters. */
function parseBindingMessage(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if ([...raw].length > BINDING_MESSAGE_MAX || /[\p{Cc}\p{Cf}]/u.test(raw)) {
    throw new OAuthError(
      'invalid_binding_message',
      `binding_message must be at most ${BINDING_MESSAGE_MAX} characters without control or formatting characters`,
    );
  }
  return raw;
}

function parseRequestedExpiry(raw: string | undefined, max: number): number | null {
  if (raw === undefined) return null;
  const value = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(value <= max)) {
    throw new OAuthError(
      'invalid_request',
      `requested_expiry must be a whole number of seconds from 1 to ${max}`,
    );
  }
  return value;
}
