// What Wrangler bundles besides code (wrangler.toml `rules`): the Cedar engine's `.wasm`
// as a compiled WebAssembly.Module, and the pages' static files as text. Plain
// JavaScript with a declaration beside it (bundled.d.ts), because TypeScript would
// read the browser scripts as modules of code. Relative paths into node_modules:
// the packages' `exports` hide these files, and Wrangler's module rules see only
// the import's own path, so an alias would lose the `.wasm` rule.
import cedarWasm from '../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm';
import simpleWebAuthn from '../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js';
import appCss from '../ui/assets/app.css';
import approvalJs from '../ui/assets/approval.js';
import dashboardJs from '../ui/assets/dashboard.js';
import passkeysJs from '../ui/assets/passkeys.js';

export { cedarWasm };

/** Asset name → its text, under the names src/node/assets.ts serves on Node. */
export const assetTexts = {
  'app.css': appCss,
  'approval.js': approvalJs,
  'dashboard.js': dashboardJs,
  'passkeys.js': passkeysJs,
  'simplewebauthn.js': simpleWebAuthn,
};
