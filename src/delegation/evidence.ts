/**
 * Re-verifies a grant's stored approval evidence, by anyone, at any time: the
 * passkey signature is checked again against the stored public key, and its
 * challenge must be the SHA-256 of the stored approval document, which must in
 * turn describe this very grant. One changed byte anywhere fails.
 */
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { and, eq } from 'drizzle-orm';
import { base64url } from 'jose';
import type { DbOrTx } from '../db/database.ts';
import { grants, passkeys, type ApprovalEvidence } from '../db/schema.ts';
import { isUuid } from '../random.ts';
import { approvalChallenge, normaliseDocument, parseCanonical } from './approval-document.ts';

export interface EvidenceReport {
  ok: boolean;
  grant_id: string;
  credential_id: string | null;
  /** SHA-256 of the approved document, base64url: the challenge the passkey signed. */
  document_sha256: string | null;
  problems: string[];
}

interface GrantFacts {
  id: string;
  tenantId: string;
  userId: string;
  clientId: string;
  requestId: string;
  resources: { resource: string; scopes: string[] }[];
  expiresAt: Date;
  maxTokenTtl: number;
}

/** The pure check, given the evidence, the grant it should support and the passkey's public key. */
export async function verifyEvidence(
  evidence: ApprovalEvidence,
  grant: GrantFacts,
  publicKey: string | undefined,
): Promise<EvidenceReport> {
  const problems: string[] = [];
  const challenge = await approvalChallenge(evidence.document);
  const report = (): EvidenceReport => ({
    ok: problems.length === 0,
    grant_id: grant.id,
    credential_id: evidence.credential_id,
    document_sha256: challenge,
    problems,
  });

  const doc = parseCanonical(evidence.document);
  if (!doc) {
    problems.push('the approved document is not a canonical version-1 approval');
  } else {
    const signed = normaliseDocument(doc).resources;
    const granted = normaliseDocument({ ...doc, resources: grant.resources }).resources;
    const mismatches: [string, boolean][] = [
      ['tenant', doc.tenant_id === grant.tenantId],
      ['person', doc.user_id === grant.userId],
      ['agent', doc.client_id === grant.clientId],
      ['request', doc.request_id === grant.requestId],
      // A grant may be narrower than what the person signed (the tenant's policy can
      // adapt an approval: fewer scopes, an earlier end), never wider.
      [
        'resources and scopes',
        granted.every((g) => {
          const asSigned = signed.find((x) => x.resource === g.resource);
          return asSigned !== undefined && g.scopes.every((sc) => asSigned.scopes.includes(sc));
        }),
      ],
      ['expiry', grant.expiresAt.getTime() <= Date.parse(doc.grant_expires_at)],
      ['maximum token lifetime', grant.maxTokenTtl <= doc.max_token_ttl],
      ['decision', doc.decision === 'approve'],
    ];
    for (const [what, same] of mismatches) {
      if (!same) problems.push(`the grant goes beyond the signed document in ${what}`);
    }
  }

  if (!publicKey) {
    problems.push(`passkey ${evidence.credential_id} is not registered to this person`);
    return report();
  }
  try {
    const { verified } = await verifyAuthenticationResponse({
      response: {
        id: evidence.credential_id,
        rawId: evidence.credential_id,
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          authenticatorData: evidence.authenticator_data,
          clientDataJSON: evidence.client_data_json,
          signature: evidence.signature,
          ...(evidence.user_handle ? { userHandle: evidence.user_handle } : {}),
        },
      },
      expectedChallenge: challenge,
      expectedOrigin: evidence.origin,
      expectedRPID: evidence.rp_id,
      // Counter 0: re-verification judges the signature, not freshness, which was checked at approval.
      credential: {
        id: evidence.credential_id,
        publicKey: new Uint8Array(base64url.decode(publicKey)),
        counter: 0,
      },
      requireUserVerification: true,
    });
    if (!verified) problems.push('the passkey signature does not verify');
  } catch (err) {
    problems.push(`the passkey assertion does not verify: ${(err as Error).message}`);
  }
  return report();
}

/** Loads a grant of `tenantId` and its passkey, then verifies; undefined if no such grant. */
export async function verifyGrantEvidence(
  db: DbOrTx,
  tenantId: string,
  grantId: string,
): Promise<EvidenceReport | undefined> {
  if (!isUuid(grantId)) return undefined;
  const [grant] = await db
    .select()
    .from(grants)
    .where(and(eq(grants.id, grantId), eq(grants.tenantId, tenantId)));
  if (!grant) return undefined;
  const [passkey] = await db
    .select({ publicKey: passkeys.publicKey })
    .from(passkeys)
    .where(
      and(
        eq(passkeys.id, grant.evidence.credential_id),
        eq(passkeys.tenantId, grant.tenantId),
        eq(passkeys.userId, grant.userId),
      ),
    );
  return verifyEvidence(grant.evidence, grant, passkey?.publicKey);
}
