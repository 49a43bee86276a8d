/**
 * The `status` claim of a token (draft-ietf-oauth-status-list §6.1) and where its
 * list is served. Lists are addressed by id, not by tenant, and answer publicly:
 * any verifier holding a token can fetch its list.
 */
import type { StatusPosition } from './status-index.ts';

export const STATUS_LIST_PATH = '/status';

/** A position with the URI its list is served at: what a token carries and what is recorded. */
export interface StatusEntry extends StatusPosition {
  uri: string;
}

/** §6.1: `status: { status_list: { idx, uri } }`. */
export interface StatusClaim {
  status_list: { idx: number; uri: string };
}

export function statusListUri(issuer: string, listId: string): string {
  return `${issuer}${STATUS_LIST_PATH}/${listId}`;
}

/** The W3C Bitstring Status List credential over the same bits (for the VC form). */
export function statusListCredentialUri(issuer: string, listId: string): string {
  return `${statusListUri(issuer, listId)}/credential`;
}

export function statusEntry(issuer: string, pos: StatusPosition): StatusEntry {
  return { ...pos, uri: statusListUri(issuer, pos.listId) };
}

export function statusClaim(entry: StatusEntry): StatusClaim {
  return { status_list: { idx: entry.idx, uri: entry.uri } };
}
