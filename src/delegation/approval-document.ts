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
  auth_req_id: string;
  decision: 'approve';
  resources: ApprovedResource[];
  authorization_details: unknown[] | null;
  /** When the grant ends (ISO 8601, UTC). */
  grant_expires_at: string;
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

/** base64url(SHA-256(canonical text)): the WebAuthn challenge for this approval. */
export function approvalChallenge(canonical: string): Promise<string> {
  return sha256base64url(canonical);
}
