/**
 * `npm run demo -- --headless` end to end, as CI runs it: a real broker process on the
 * embedded database, the operator CLI, the example API behind mandate/verifier, the
 * example agent on mandate/agent, and headless Chromium approving with a virtual passkey.
 * It must exit 0, having printed every step's outcome.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    if (process.env.CHROMIUM_PATH) env.CHROMIUM_PATH = process.env.CHROMIUM_PATH;
    const child = spawn('npm', ['run', '--silent', 'demo', '--', '--headless'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 170_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('npm run demo -- --headless', () => {
  it(
    'walks the whole story and exits 0 only when every step behaved',
    { timeout: 180_000 },
    async () => {
      const { code, output } = await runDemo();
      expect(code, output).toBe(0);
      for (const line of [
        '✔ the person granted repo:read',
        '✔ the task token listed the repositories',
        '✔ the delete was refused 403 insufficient_scope',
        '✔ the same token then got 401 invalid_token',
        '✔ the grant was revoked (invalid_grant)',
        'Every step behaved as expected.',
      ]) {
        expect(output, output).toContain(line);
      }
      expect(output).toMatch(/\/invite\/[\w-]+/);
      expect(output).toContain('[api] POST /repos/mandate/delete → 403');
    },
  );
});
