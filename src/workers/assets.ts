/**
 * The pages' static files on Workers: bundled into the Worker as text (bundled.js),
 * served from memory under the same names as on Node.
 */
import { assetType, type AssetStore } from '../ui/assets.ts';
import { assetTexts } from './bundled.js';

export function bundledAssets(texts: Readonly<Record<string, string>> = assetTexts): AssetStore {
  return {
    get(name) {
      const type = assetType(name);
      const body = type && Object.hasOwn(texts, name) ? texts[name] : undefined;
      return Promise.resolve(type && body !== undefined ? { body, type } : undefined);
    },
  };
}
