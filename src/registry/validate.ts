/**
 * Input rules for the registry, as zod schemas that the operator commands reuse.
 * Identifiers are ASCII on purpose: a Cyrillic "а" in a slug, scope or audience
 * would look identical on an approval page and still be a different thing.
 */
import { z } from 'zod';
import { RegistryError } from './errors.ts';

export const slugSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    'a tenant slug is 1-63 of a-z, 0-9 and "-", not starting with "-"',
  );

const EMAIL =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const HANDLE = /^[a-z0-9._-]{1,64}$/;

/** A person's email, or a plain handle for deployments without email; compared lower-cased. */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .refine(
    (v) => EMAIL.test(v) || HANDLE.test(v),
    'expected an email address or a handle of a-z, 0-9, ".", "_", "-"',
  );

/** Display names: free text, but no control or invisible formatting characters (bidi overrides). */
export const nameSchema = z
  .string()
  .trim()
  .min(1, 'a name must not be empty')
  .max(100)
  .refine(
    (v) => !/[\p{Cc}\p{Cf}]/u.test(v),
    'a name must not contain control or formatting characters',
  );

/** An absolute URI without fragment (RFC 8707 §2), printable ASCII so no homographs. */
export const audienceSchema = z
  .string()
  .max(2048)
  .regex(/^[\x21-\x7e]+$/, 'an audience is printable ASCII without spaces')
  .refine((v) => URL.canParse(v), 'an audience must be an absolute URI (RFC 8707)')
  .refine((v) => !v.includes('#'), 'an audience must not have a fragment (RFC 8707)');

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const scopeNameSchema = z
  .string()
  .max(128)
  .regex(
    /^[\x21\x23-\x5b\x5d-\x7e]+$/,
    'a scope name is ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)',
  );

export const SENSITIVITIES = ['read', 'write', 'admin'] as const;

export const scopesSchema = z
  .array(
    z.strictObject({
      name: scopeNameSchema,
      description: z
        .string()
        .trim()
        .min(1, 'every scope needs a description: people read it before approving')
        .max(500),
      sensitivity: z.enum(SENSITIVITIES),
    }),
  )
  .min(1, 'an API needs at least one scope')
  .max(200, 'at most 200 scopes per API')
  .superRefine((scopes, ctx) => {
    const seen = new Set<string>();
    for (const [i, s] of scopes.entries()) {
      if (seen.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate scope "${s.name}"` });
      }
      seen.add(s.name);
    }
  });

export type ScopeInput = z.infer<typeof scopesSchema>[number];

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Where a client publishes its keys. https only: whoever can alter these keys in
 * transit can authenticate as the client. Plain http is allowed on loopback,
 * where there is no network to attack, so that local development and tests can
 * serve keys without certificates.
 */
export const jwksUriSchema = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    const problem = jwksUriProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

function jwksUriProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'jwks_uri must be an absolute URL';
  const url = new URL(value);
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp)
    return 'jwks_uri must be https (http only on localhost)';
  if (url.username || url.password) return 'jwks_uri must not carry credentials';
  if (url.hash) return 'jwks_uri must not have a fragment';
  return undefined;
}

/** Parses with `schema` or throws ERR_INVALID listing every problem. */
/** Overruns a grant may have before the next one revokes it (MANDATE_OVERRUN_THRESHOLD's range). */
export const overrunThresholdSchema = z.coerce
  .number('an overrun threshold is a whole number from 1 to 1000')
  .int('an overrun threshold is a whole number from 1 to 1000')
  .min(1, 'an overrun threshold is a whole number from 1 to 1000')
  .max(1000, 'an overrun threshold is a whole number from 1 to 1000');

export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new RegistryError('ERR_INVALID', `invalid ${what}: ${describeIssues(parsed.error)}`, {
    cause: parsed.error,
  });
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}
