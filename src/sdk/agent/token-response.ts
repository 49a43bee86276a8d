/**
 * What the SDK hands back for a token: the token endpoint's answer (RFC 6749 §5.1,
 * RFC 8693 §2.2.1), with names in camelCase and the token type in its canonical case
 * (openid-client lowercases it).
 */
import type { TokenEndpointResponse } from 'openid-client';
import { MandateAgentError } from './errors.ts';

export type TokenType = 'DPoP' | 'Bearer' | 'N_A';

export interface AccessToken {
  /** The token as issued: an RFC 9068 `at+jwt`, or a `vc+jwt` for the credential form. */
  token: string;
  /** `DPoP` when bound to the agent's DPoP key; `N_A` for the verifiable-credential form. */
  tokenType: TokenType;
  /** Space-separated; the broker may grant less than was asked (policy), so read it. */
  scope: string;
  /** Seconds of life at issue. */
  expiresIn: number;
  /** When it stops working, by this machine's clock. */
  expiresAt: Date;
  /** RFC 8693 `issued_token_type`, when the broker said. */
  issuedTokenType: string | undefined;
  /** RFC 9396 details echoed by the broker (the agent_task), when any. */
  authorizationDetails: Record<string, unknown>[] | undefined;
  /**
   * Set when the broker's policy changed the answer: `ADAPT` (narrowed; `narrowed`
   * says what) or `REUSE` (the identical live token of this task came back).
   */
  policy: PolicyNote | undefined;
}

/** The token response's `policy` member (docs/POLICY.md, "What the agent sees"). */
export interface PolicyNote {
  outcome: 'ADAPT' | 'REUSE';
  policies: string[];
  explanation: string;
  narrowed?: {
    scope?: { requested: string; granted: string; dropped: string };
    expires_in?: { requested: number; granted: number };
  };
}

function policyNote(value: unknown): PolicyNote | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const note = value as Partial<PolicyNote>;
  return (note.outcome === 'ADAPT' || note.outcome === 'REUSE') &&
    Array.isArray(note.policies) &&
    typeof note.explanation === 'string'
    ? (value as PolicyNote)
    : undefined;
}

const TYPES: Record<string, TokenType> = { dpop: 'DPoP', bearer: 'Bearer', n_a: 'N_A' };

export function toAccessToken(res: TokenEndpointResponse, now = Date.now()): AccessToken {
  const tokenType = TYPES[res.token_type.toLowerCase()];
  if (!tokenType) {
    throw new MandateAgentError(
      'ERR_AGENT_RESPONSE',
      `the broker issued a token of type ${res.token_type}`,
    );
  }
  const expiresIn = res.expires_in;
  if (typeof expiresIn !== 'number') {
    throw new MandateAgentError('ERR_AGENT_RESPONSE', 'the token response has no expires_in');
  }
  const issued = res.issued_token_type;
  const details = res.authorization_details as Record<string, unknown>[] | undefined;
  return {
    token: res.access_token,
    tokenType,
    scope: typeof res.scope === 'string' ? res.scope : '',
    expiresIn,
    expiresAt: new Date(now + expiresIn * 1000),
    issuedTokenType: typeof issued === 'string' ? issued : undefined,
    authorizationDetails: Array.isArray(details) ? details : undefined,
    policy: policyNote(res.policy),
  };
}
