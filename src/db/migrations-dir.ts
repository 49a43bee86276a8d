import { fileURLToPath } from 'node:url';

/** The committed drizzle-kit migrations, resolved from this file so any cwd works. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
