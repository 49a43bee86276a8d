/**
 * The one door to `@cedar-policy/cedar-wasm`. Nothing else in src/policy imports
 * the package: the engine receives a {@link CedarApi}, so each runtime supplies
 * the build that loads there.
 *
 * - Node: {@link loadNodeCedar} imports `@cedar-policy/cedar-wasm/nodejs`, which
 *   reads its `.wasm` from disk synchronously. The package's default entry (the
 *   bundler build) fails on Node 20.
 * - Workers: the `/web` build, initialised with `initSync({ module })` on the
 *   bundled `.wasm` (see cedar-web.ts), which Wrangler hands over as a
 *   `WebAssembly.Module`.
 */
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';
import { setFlagsFromString } from 'node:v8';

/** What the engine uses of Cedar; both the `/nodejs` and the `/web` builds provide it. */
export type CedarApi = Pick<
  typeof CedarWasm,
  | 'validate'
  | 'policySetTextToParts'
  | 'policyToJson'
  | 'preparsePolicySet'
  | 'preparseSchema'
  | 'isAuthorized'
  | 'statefulIsAuthorized'
  | 'getCedarVersion'
>;

export type {
  AuthorizationAnswer,
  DetailedError,
  EntityJson,
} from '@cedar-policy/cedar-wasm/nodejs';

let nodeCedar: Promise<CedarApi> | undefined;

/**
 * The Node build, loaded once per process (its wasm instance holds the preparsed sets).
 *
 * It first turns off TurboFan's inlining of calls from JavaScript into WebAssembly. With
 * it on, Node 20's V8 (11.3) aborted the whole process ("Fatal error … unreachable code"
 * in Deoptimizer::DoComputeBuiltinContinuation) when a decision's optimized code was
 * deoptimized while Cedar's wasm call was on the stack: every run of `npm run bench:mint`
 * on PostgreSQL once the mint's statements were compiled (db/compiled.ts), and none with
 * `--no-turbo-inline-js-wasm-calls`. The flag costs a wrapper call per decision.
 */
export function loadNodeCedar(): Promise<CedarApi> {
  if (!nodeCedar) {
    setFlagsFromString('--no-turbo-inline-js-wasm-calls');
    nodeCedar = import('@cedar-policy/cedar-wasm/nodejs').then((m) => m as CedarApi);
  }
  return nodeCedar;
}
