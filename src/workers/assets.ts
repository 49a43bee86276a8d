/**
 * The pages' static files on Workers: bundled into the Worker as text (bundled.js),
 * served from memory under the same names as on Node.
 */
import { assetType, type AssetStore } from '../ui/assets.ts';

/** `texts`: bundled.js's assetTexts (imported by the Worker's deps, since Node cannot load it). */
export function bundledAssets(texts: Readonly<Record<string, string>>): AssetStore {
  return {
    get(name) {
      const type = assetType(name);
      const body = type && Object.hasOwn(texts, name) ? texts[name] : undefined;
      return Promise.resolve(type && body !== undefined ? { body, type } : undefined);
    },
  };
}
