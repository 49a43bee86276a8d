/**
 * Node only: keeps an agent's private key in a file, as OpenSSH keeps identities —
 * created with mode 0600 (never briefly wider), and refused on load when anyone but
 * the owner could read it. Everything else in the SDK is portable; this is the one
 * file that touches the file system.
 */
import { constants } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JWK } from 'jose';
import { MandateAgentError } from './errors.ts';
import { exportPrivateJwk, importAgentKey, type AgentKey } from './keys.ts';

const OWNER_ONLY = 0o600;

/**
 * Writes the private JWK to `path`, mode 0600. Without `overwrite` it refuses a path
 * that exists (O_EXCL, so no race either); with it, it writes a temporary file beside
 * it and renames it over, so a reader never sees half a key.
 *
 * @example
 * const key = await generateAgentKey();
 * await saveKeyFile('.mandate/agent.key.json', key);
 */
export async function saveKeyFile(
  path: string,
  key: AgentKey,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  const text = `${JSON.stringify(await exportPrivateJwk(key), null, 2)}\n`;
  if (!options.overwrite) {
    await writeNew(path, text).catch((cause: unknown) => {
      const exists = (cause as { code?: unknown }).code === 'EEXIST';
      throw new MandateAgentError(
        'ERR_AGENT_KEY',
        exists ? `${path} already exists; pass overwrite to replace it` : `cannot write ${path}`,
        { cause },
      );
    });
    return;
  }
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    await writeNew(temp, text);
    await rename(temp, path);
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    throw new MandateAgentError('ERR_AGENT_KEY', `cannot write ${path}`, { cause });
  }
}

/**
 * Reads a private key saved by saveKeyFile. Refuses a file that group or others may
 * read or write (fix it with `chmod 600 FILE`).
 *
 * @example
 * const key = await loadKeyFile('.mandate/agent.key.json');
 */
export async function loadKeyFile(path: string): Promise<AgentKey> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MandateAgentError('ERR_AGENT_KEY', `cannot read key file ${path}`, { cause });
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new MandateAgentError(
      'ERR_AGENT_KEY',
      `key file ${path} has mode ${(mode & 0o777).toString(8)}; ` +
        'it must be readable by its owner only (chmod 600)',
    );
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (cause) {
    throw new MandateAgentError('ERR_AGENT_KEY', `key file ${path} is not a JSON JWK`, { cause });
  }
  return importAgentKey(jwk);
}

/** O_EXCL creates the file with mode 0600 from the start, or fails if anything is there. */
async function writeNew(path: string, text: string): Promise<void> {
  const file = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    OWNER_ONLY,
  );
  try {
    await file.writeFile(text);
    // The umask can only narrow 0600; set it exactly anyway, so the mode never depends on it.
    await file.chmod(OWNER_ONLY);
  } finally {
    await file.close();
  }
}
