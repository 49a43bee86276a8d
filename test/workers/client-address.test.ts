/**
 * Per-address rate limits on the Worker count by `CF-Connecting-IP`, the address
 * Cloudflare's edge sets on every request (src/workers/client-address.ts): two
 * addresses have a limit each, and the refusal is the same 429 as on Node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';

let worker: TestWorker;

beforeAll(async () => {
  worker = await startTestWorker({
    MANDATE_RATE_LIMIT_ADDRESS: '2',
    MANDATE_RATE_LIMIT_WINDOW: '600',
  });
}, 60_000);
afterAll(async () => {
  await worker?.close();
});

/** A token request from `address` by a client the broker does not know. */
async function tokenRequest(address: string): Promise<{ status: number; error: unknown }> {
  const res = await fetch(`${worker.url}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'cf-connecting-ip': address,
    },
    body: 'grant_type=client_credentials&client_id=nobody',
  });
  return { status: res.status, error: ((await res.json()) as { error?: unknown }).error };
}

describe('per-address limits on the Worker', () => {
  it('count each CF-Connecting-IP address on its own', async () => {
    const unknownClient = { status: 401, error: 'invalid_client' };
    const limited = { status: 429, error: 'rate_limited' };
    for (const address of ['198.51.100.7', '203.0.113.9']) {
      // Each address gets its own two, whatever the other one used.
      expect(await tokenRequest(address)).toEqual(unknownClient);
      expect(await tokenRequest(address)).toEqual(unknownClient);
      expect(await tokenRequest(address)).toEqual(limited);
    }
  });
});
