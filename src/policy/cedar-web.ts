/**
 * Cedar for runtimes without a file system (Cloudflare Workers): the package's
 * `/web` build, instantiated synchronously from the `.wasm` the bundler ships.
 *
 * ```ts
 * import cedarWasm from '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm';
 * const cedar = await cedarFromWasm(cedarWasm); // a WebAssembly.Module under Wrangler
 * ```
 */
import type { CedarApi } from './cedar.ts';

export async function cedarFromWasm(module: WebAssembly.Module | BufferSource): Promise<CedarApi> {
  const web = await import('@cedar-policy/cedar-wasm/web');
  web.initSync({ module });
  return web;
}
