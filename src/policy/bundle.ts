/**
 * A policy bundle, compiled: validated against Mandate's schema by Cedar's own
 * validator (strict mode), split into policies with stable ids, and their
 * annotations read (outcome.ts). Compiling is the expensive part and happens once
 * per bundle version; deciding then uses the compiled form.
 *
 * The digest is the SHA-256 (hex) of the bundle's canonical form: the RFC 8785
 * JSON of `{ "policies": <the text exactly as pushed>, "schema": SCHEMA_VERSION }`,
 * so the same text under another schema is another bundle.
 */
import canonicalize from 'canonicalize';
import type { CedarApi, DetailedError } from './cedar.ts';
import { PolicyError } from './errors.ts';
import { readAnnotations, type PolicyMeta } from './annotations.ts';
import { CEDAR_SCHEMA, SCHEMA_VERSION } from './schema.ts';

export interface CompiledBundle {
  /** SHA-256 hex of the canonical form. */
  digest: string;
  /** The bundle as pushed. */
  text: string;
  /** Policy id → Cedar text, ready for `preparsePolicySet`. */
  policies: Record<string, string>;
  metas: ReadonlyMap<string, PolicyMeta>;
  /** The validator's warnings (the bundle was accepted despite them). */
  warnings: string[];
}

/** Large enough for hundreds of policies; a bundle beyond it is a mistake. */
export const MAX_BUNDLE_BYTES = 256 * 1024;

export async function bundleDigest(text: string): Promise<string> {
  const canonical = canonicalize({ policies: text, schema: SCHEMA_VERSION }) ?? '';
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const refuse = (problems: string[]) =>
  new PolicyError('ERR_BUNDLE_INVALID', `policy bundle refused: ${problems.join('; ')}`);

/** Validates and compiles; throws ERR_BUNDLE_INVALID carrying the validator's messages. */
export async function compileBundle(cedar: CedarApi, text: string): Promise<CompiledBundle> {
  if (new TextEncoder().encode(text).length > MAX_BUNDLE_BYTES) {
    throw refuse([`the bundle is larger than ${MAX_BUNDLE_BYTES} bytes`]);
  }
  const validated = cedar.validate({
    schema: CEDAR_SCHEMA,
    policies: { staticPolicies: text },
    validationSettings: { mode: 'strict' },
  });
  if (validated.type === 'failure') throw refuse(validated.errors.map((e) => describe(e, text)));
  if (validated.validationErrors.length > 0) {
    throw refuse(collapse(validated.validationErrors.map((v) => describe(v.error, text))));
  }
  const warnings = collapse([
    ...validated.validationWarnings.map((v) => describe(v.error, text)),
    ...validated.otherWarnings.map((e) => describe(e, text)),
  ]);

  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw refuse(parts.errors.map((e) => describe(e, text)));
  if (parts.policy_templates.length > 0) {
    throw refuse(['templates are not supported in a bundle; write static policies']);
  }
  if (parts.policies.length === 0) {
    throw refuse([
      'the bundle has no policies (to refuse everything, say so: forbid (principal, action, resource);)',
    ]);
  }
  // Cedar numbers the policies policy0, policy1… in bundle order, and returns the
  // parts sorted by that id as a string (policy10 before policy2): undo the sort.
  const cedarIds = parts.policies.map((_, i) => `policy${i}`);
  const sortedIds = [...cedarIds].sort();
  const byCedarId = new Map(sortedIds.map((id, k) => [id, parts.policies[k] ?? '']));

  const policies: Record<string, string> = {};
  const metas = new Map<string, PolicyMeta>();
  const problems: string[] = [];
  cedarIds.forEach((cedarId, index) => {
    const policy = byCedarId.get(cedarId) ?? '';
    const json = cedar.policyToJson(policy);
    if (json.type === 'failure') {
      problems.push(...json.errors.map((e) => `${cedarId}: ${e.message}`));
      return;
    }
    const annotations = (json.json.annotations ?? {}) as Record<string, string | null>;
    const id = annotations.id ?? cedarId;
    if (!/^[\w.:-]{1,100}$/.test(id)) {
      problems.push(`${cedarId}: @id("${id}") must be 1–100 letters, digits, _ . : or -`);
      return;
    }
    if (metas.has(id)) {
      problems.push(`two policies have the id \`${id}\``);
      return;
    }
    const meta = readAnnotations(id, index, json.json.effect, annotations);
    if (Array.isArray(meta)) {
      problems.push(...meta);
      return;
    }
    policies[id] = policy;
    metas.set(id, meta);
  });
  if (problems.length > 0) throw refuse(problems);
  return { digest: await bundleDigest(text), text, policies, metas, warnings };
}

const ACTION = /Mandate::Action::"\w+"/;

/**
 * The validator reports one mistake once per action the policy applies to; say it
 * once, with how many more actions it affects.
 */
function collapse(messages: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const m of messages) {
    const key = m.replace(ACTION, '');
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()].map(([first = '', ...rest]) =>
    rest.length === 0 ? first : `${first} (and likewise for ${rest.length} more action(s))`,
  );
}

/** Cedar's message, with the line and column it points at and its help. */
function describe(e: DetailedError, text: string): string {
  const at = e.sourceLocations?.[0];
  const where = at === undefined ? '' : `${lineAndColumn(text, at.start)}: `;
  const label = at?.label ? ` (${at.label})` : '';
  const help = e.help ? ` — ${e.help}` : '';
  return `${where}${e.message}${label}${help}`;
}

/** Cedar's offsets count UTF-8 bytes. */
function lineAndColumn(text: string, byteOffset: number): string {
  const before = new TextDecoder().decode(new TextEncoder().encode(text).slice(0, byteOffset));
  const lines = before.split('\n');
  return `line ${lines.length}, column ${(lines.at(-1) ?? '').length + 1}`;
}
