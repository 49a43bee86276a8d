/**
 * The pages' static files on Node: ours from src/ui/assets/, plus the
 * @simplewebauthn/browser bundle served as `simplewebauthn.js`. Files are read once
 * and kept in memory; they are small and never change while the process runs.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assetType, type Asset, type AssetStore } from '../ui/assets.ts';

const OWN_DIR = fileURLToPath(new URL('../ui/assets/', import.meta.url));

/**
 * The package's `exports` hide dist/, so resolve its entry point and step from there to
 * the UMD bundle, which defines the global `SimpleWebAuthnBrowser` (STANDARDS.md).
 */
function simpleWebAuthnBundle(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  // entry is <package>/script/index.js
  return join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js');
}

/** Asset name → file path, from a fixed listing taken once: requests never build paths. */
async function listFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(OWN_DIR, { withFileTypes: true })) {
    if (entry.isFile() && assetType(entry.name)) files.set(entry.name, join(OWN_DIR, entry.name));
  }
  files.set('simplewebauthn.js', simpleWebAuthnBundle());
  return files;
}

export function nodeAssets(): AssetStore {
  let listing: Promise<Map<string, string>> | undefined;
  const loaded = new Map<string, Promise<Asset>>();
  return {
    async get(name) {
      const type = assetType(name);
      if (!type) return undefined;
      listing ??= listFiles();
      const path = (await listing).get(name);
      if (!path) return undefined;
      let asset = loaded.get(name);
      if (!asset) {
        asset = readFile(path, 'utf8').then((body) => ({ body, type }));
        // A failed read is not cached, so a transient error does not stick.
        asset.catch(() => loaded.delete(name));
        loaded.set(name, asset);
      }
      return asset;
    },
  };
}
