/** The claims of a Mandate access token (DESIGN.md, The access token; RFC 9068 §2.2). */
import type { JWTPayload } from 'jose';

/** RFC 8693 §4.1: the acting agent, earlier actors nested inside. */
export interface Actor {
  sub: string;
  act?: Actor;
}

/**
 * The claims of a verified Mandate access token (DESIGN.md, The access token).
 *
 * @example
 * const { sub, client_id, task } = verified.claims; // the person, the agent, the task
 */
export interface MandateClaims extends JWTPayload {
  iss: string;
  /** The person the agent acts for. */
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** The agent (OAuth client) holding the token. */
  client_id: string;
  /** Space-separated scopes. */
  scope: string;
  act?: Actor;
  /** The tenant. */
  tid?: string;
  grant_id?: string;
  task?: { id?: string; purpose?: string };
  /** RFC 9449 §6.1: present when the token is bound to a DPoP key. */
  cnf?: { jkt?: string };
  /** draft-ietf-oauth-status-list §6.1: where the token's revocation bit lives. */
  status?: { status_list?: { idx?: number; uri?: string } };
}
