/**
 * Resolves a CIBA `login_hint` to a person of the agent's own tenant. Unknown,
 * invited-but-unregistered, disabled and other tenants' people all get the same
 * answer, so an agent learns nothing about who exists elsewhere (DESIGN.md: nothing
 * in one tenant can name anything in another).
 */
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { users } from '../db/schema.ts';
import { OAuthError } from '../oauth/errors.ts';
import { emailSchema } from '../registry/validate.ts';

const unknownUser = () =>
  new OAuthError('unknown_user_id', 'login_hint does not name an active person of this tenant');

/** The user id behind `loginHint` (an email or handle, compared lower-cased). */
export async function resolvePerson(
  db: DbOrTx,
  tenantId: string,
  loginHint: string,
): Promise<string> {
  const email = emailSchema.safeParse(loginHint);
  if (!email.success) throw unknownUser();
  const [user] = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(eq(users.tenantId, tenantId), eq(users.email, email.data), eq(users.status, 'active')),
    );
  if (!user) throw unknownUser();
  return user.id;
}
