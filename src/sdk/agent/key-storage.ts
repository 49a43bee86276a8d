/**
 * saveKeyFile and loadKeyFile for the public entry, loaded on first use: key-file.ts
 * needs node:fs, and a static import would make `mandate/agent` unloadable on runtimes
 * without it (Workers, Deno without compat), where agents keep keys in a secret store
 * with exportPrivateJwk / importAgentKey instead.
 */
import type * as KeyFile from './key-file.ts';

/**
 * Node only. Writes the private key to `path` with mode 0600; refuses to overwrite
 * unless `{ overwrite: true }`.
 *
 * @example
 * await saveKeyFile('.mandate/agent.key.json', await generateAgentKey());
 */
export const saveKeyFile: typeof KeyFile.saveKeyFile = async (path, key, options) =>
  (await import('./key-file.ts')).saveKeyFile(path, key, options);

/**
 * Node only. Reads a key saved by saveKeyFile; refuses a file others may read.
 *
 * @example
 * const key = await loadKeyFile('.mandate/agent.key.json');
 */
export const loadKeyFile: typeof KeyFile.loadKeyFile = async (path) =>
  (await import('./key-file.ts')).loadKeyFile(path);
