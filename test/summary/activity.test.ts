/**
 * /activity and /activity.json: what a person's agents did, from the ledger the
 * broker writes as it works (real mints and an overrun report here), and only theirs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessions } from '../../src/db/schema.ts';
import { cookieSettings } from '../../src/passkeys/session.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, type TaskWorld } from '../oauth/task-world.ts';
import { report } from '../revocation/revocation-world.ts';
import { inlineCode } from '../ui/fixtures.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

/** A session for someone already in the world, as the passkey sign-in would leave it. */
async function cookieFor(tenantId: string, userId: string): Promise<string> {
  const secret = randomToken(32);
  const now = w.t.clock.now();
  await w.t.owner.insert(sessions).values({
    idHash: await sha256base64url(secret),
    tenantId,
    userId,
    csrfToken: randomToken(32),
    createdAt: now,
    expiresAt: new Date(now.getTime() + 3600_000),
  });
  return `${cookieSettings(w.t.deps.config).name}=${secret}`;
}

interface Summary {
  agent: string;
  name: string;
  minted: number;
  overruns: number;
  flags: string[];
  series: number[];
}

describe('agent activity for a person', () => {
  it('summarises their agent from the ledger: mints, an overrun flagged, a chart', async () => {
    for (let i = 0; i < 3; i++) await mintOk(w, { resource: REPOS, scope: 'repo:read' });
    const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    await report(w, w.acme.api, { token, attempted_scope: 'repo:write' });
    w.t.clock.advance(60);
    const cookie = await cookieFor(w.acme.tenantId, w.acme.userId);

    const res = await w.t.request('/activity.json?window=1h', { headers: { cookie } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { window: string; agents: Summary[] };
    expect(body.window).toBe('1h');
    expect(body.agents).toHaveLength(1);
    const [bot] = body.agents;
    // The CIBA redemption's first token and four per-task mints.
    expect(bot).toMatchObject({
      agent: w.acme.agent.clientId,
      name: 'Release bot',
      minted: 5,
      overruns: 1,
    });
    expect(bot?.flags).toContain('1 scope overrun');
    expect(bot?.series.reduce((a, b) => a + b, 0)).toBe(5);

    const page = await w.t.request('/activity?window=1h', { headers: { cookie } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('Release bot');
    expect(html).toContain('1 scope overrun');
    expect(html).toContain('<svg');
    expect(inlineCode(html)).toEqual([]);
  });

  it('shows nobody else’s agents: another tenant’s person sees none of this', async () => {
    await mintOk(w, { resource: REPOS });
    const cookie = await cookieFor(w.globex.tenantId, w.globex.userId);
    const res = await w.t.request('/activity.json', { headers: { cookie } });
    expect(((await res.json()) as { agents: Summary[] }).agents).toEqual([]);
  });

  it('asks for a sign-in, and refuses an unknown window', async () => {
    expect((await w.t.request('/activity.json')).status).toBe(401);
    const page = await w.t.request('/activity');
    expect(page.status).toBe(303);
    const cookie = await cookieFor(w.acme.tenantId, w.acme.userId);
    const bad = await w.t.request('/activity.json?window=1y', { headers: { cookie } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_request' });
  });
});
