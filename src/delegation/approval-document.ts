/**
 * The exact approval a person signs with a passkey. Its canonical form (RFC 8785,
 * JSON Canonicalization Scheme) is hashed into the WebAuthn challenge, so the
 * signature commits to this document and nothing else: an assertion captured for
 * one approval cannot approve another request, other scopes or a longer expiry.
 */
import canonicalize from 'canonicalize';
import { sha256base64url } from '../random.ts';

export interface ApprovedResource {
  /** The API's audience (RFC 8707 resource). */
  resource: string;
  scopes: string[];
}

export interface ApprovalDocument {
  /** Format version, so that a later change of fields cannot be confused with this one. */
  v: 1;
  issuer: string;
  tenant_id: string;
  user_id: string;
  client_id: string;
  /** The CIBA request's page id (not the agent's secret auth_req_id). */
  request_id: string;
  decision: 'approve';
  resources: ApprovedResource[];
  authorization_details: unknown[] | null;
  binding_message: string | null;
  /** When the grant ends (ISO 8601, UTC). */
  grant_expires_at: string;
  /** Longest lifetime of any token minted under the grant, seconds. */
  max_token_ttl: number;
  /** Single-use server nonce: two approvals of identical content still differ. */
  nonce: string;
}

/** Sorts resources and scopes so that equal approvals have one canonical text. */
export function normaliseDocument(doc: ApprovalDocument): ApprovalDocument {
  const resources = [...doc.resources]
    .map((r) => ({ resource: r.resource, scopes: [...new Set(r.scopes)].sort() }))
    .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
  return { ...doc, resources };
}

export function canonicalText(doc: ApprovalDocument): string {
  const text = canonicalize(normaliseDocument(doc));
  if (text === undefined) throw new Error('approval document cannot be canonicalised');
  return text;
}

/** SHA-256 of the canonical text: the raw bytes of the WebAuthn challenge for this approval. */
export async function approvalChallengeBytes(canonical: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical)));
}

/** The same challenge as it appears, base64url, in options and in clientDataJSON. */
export function approvalChallenge(canonical: string): Promise<string> {
  return sha256base64url(canonical);
}

/**
 * Parses stored canonical text back into a document, refusing anything that is
 * not exactly the canonical form of a version-1 approval: re-verification must
 * judge the very bytes that were hashed, not a re-serialisation of them.
 */
export function parseCanonical(text: string): ApprovalDocument | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // not JSON at all: the caller reports the document as altered
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== 1) {
    return undefined;
  }
  const doc = parsed as ApprovalDocument;
  return canonicalize(doc) === text ? doc : undefined;
}
