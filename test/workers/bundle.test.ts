/**
 * The Worker as `wrangler deploy` would upload it (`--dry-run` builds exactly that bundle
 * and stops before any network): it must stay under Workers' 3 MiB gzipped limit of the
 * free plan, import nothing Node-only beyond what nodejs_compat provides, and carry every
 * static file the pages load. Plus the Worker's asset store, which Node can run too.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledAssets } from '../../src/workers/assets.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
/** Workers' limit on a free plan's compressed upload. */
const LIMIT_KIB = 3 * 1024;

let outdir: string;
let output: string;

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'mandate-worker-'));
  output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [WRANGLER, 'deploy', '--dry-run', '--outdir', outdir],
      {
        cwd: ROOT,
        timeout: 120_000,
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          WRANGLER_SEND_ERROR_REPORTS: 'false',
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          WRANGLER_HIDE_BANNER: 'true',
          XDG_CONFIG_HOME: join(ROOT, '.wrangler', 'config'),
          NO_COLOR: '1',
        },
      },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}, 150_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('wrangler deploy --dry-run', () => {
  it('builds a bundle under 3 MiB gzipped', () => {
    const size = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
    expect(size, output).not.toBeNull();
    const gzipKiB = Number(size?.[2]);
    expect(gzipKiB).toBeGreaterThan(0);
    expect(gzipKiB).toBeLessThan(LIMIT_KIB);
    expect(output).toMatch(/env\.HYPERDRIVE/);
  });

  it('imports only its own modules, cloudflare: and the node: builtins nodejs_compat has', () => {
    const files = readdirSync(outdir);
    const code = readFileSync(join(outdir, 'worker.js'), 'utf8');
    const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1] ?? '');
    const outside = imports.filter(
      (spec) =>
        !(spec.startsWith('./') && files.includes(spec.slice(2))) &&
        !spec.startsWith('cloudflare:') &&
        !/^node:(async_hooks|buffer|crypto|events|net|stream|string_decoder|tls|util|perf_hooks)$/.test(
          spec,
        ),
    );
    expect(outside).toEqual([]);
    // The embedded database and the Node-only wiring stay out of the Worker.
    expect(code).not.toMatch(/@electric-sql\/pglite|node:fs|node:worker_threads/);
    expect(files.filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
  });

  it('carries every static file the pages load', () => {
    const bundled = readFileSync(join(ROOT, 'src', 'workers', 'bundled.js'), 'utf8');
    const names = [...bundled.matchAll(/^ {2}'([^']+)': \w+,$/gm)].map((m) => m[1]);
    const own = readdirSync(join(ROOT, 'src', 'ui', 'assets')).filter((f) => /\.(css|js)$/.test(f));
    expect(names.sort()).toEqual([...own, 'simplewebauthn.js'].sort());
    const files = readdirSync(outdir);
    for (const file of own) expect(files.some((f) => f.endsWith(`-${file}`))).toBe(true);
  });
});

describe('the Worker asset store', () => {
  const store = bundledAssets({ 'app.css': 'body{}', 'passkeys.js': 'void 0;' });

  it('serves bundled files with their type', async () => {
    expect(await store.get('app.css')).toEqual({ body: 'body{}', type: 'text/css; charset=utf-8' });
    expect(await store.get('passkeys.js')).toEqual({
      body: 'void 0;',
      type: 'text/javascript; charset=utf-8',
    });
  });

  it('knows nothing else, not even what every object inherits', async () => {
    for (const name of [
      'missing.js',
      'constructor',
      '__proto__.js',
      'toString.css',
      '../app.css',
    ]) {
      expect(await store.get(name)).toBeUndefined();
    }
  });
});
