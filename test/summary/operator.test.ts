/**
 * `audit summary` below the CLI (src/audit/operator.ts auditSummary): the window and
 * bars it accepts, which agents it shows, and what it refuses, on a clock held still.
 */
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { auditSummary, type AuditCommandContext } from '../../src/audit/operator.ts';
import { parseWindow } from '../../src/audit/summary-query.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { createTenant, tenantIdOf } from '../../src/registry/tenants.ts';
import { seedClient } from '../helpers/clients.ts';
import { TestClock } from '../helpers/clock.ts';
import { freshDatabase } from '../helpers/db.ts';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const HOUR = 3_600_000;

const open: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

async function world() {
  const database = await freshDatabase();
  open.push(database);
  await createTenant(database.owner, 'acme');
  const tenantId = await tenantIdOf(database.owner, 'acme');
  const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), alg: 'EdDSA' }] };
  const agent = async (name: string) =>
    (await addAgent(database.owner, { tenant: 'acme', name, jwks })).client_id;
  const ctx: AuditCommandContext = {
    db: database.owner,
    keys: { jwks: () => Promise.resolve({ keys: [] }) },
    clock: new TestClock(NOW),
  };
  return { db: database.owner, tenantId, agent, ctx };
}

interface Output {
  window: string;
  from: string;
  to: string;
  buckets: number;
  agents: { agent: string; minted: number; series: number[] }[];
}

describe('parseWindow', () => {
  it('reads whole minutes, hours or days from one minute to 90 days', () => {
    expect(parseWindow('1m')).toBe(60_000);
    expect(parseWindow('90m')).toBe(90 * 60_000);
    expect(parseWindow('24h')).toBe(24 * HOUR);
    expect(parseWindow('7d')).toBe(7 * 24 * HOUR);
    expect(parseWindow('90d')).toBe(90 * 24 * HOUR);
    expect(parseWindow('2160h')).toBe(90 * 24 * HOUR);
    for (const bad of ['', '0h', '91d', '2161h', '1.5h', '-1h', '24H', ' 24h', '24', 'h', '1w']) {
      expect(parseWindow(bad), bad).toBeUndefined();
    }
  });
});

describe('auditSummary', () => {
  it('cuts the window asked for into the bars asked for, ending at the clock’s now', async () => {
    const { db, tenantId, agent, ctx } = await world();
    const bot = await agent('Bot');
    for (const hours of [0.5, 1.5, 2.5, 5]) {
      await appendAudit(db, {
        tenantId,
        at: new Date(NOW - hours * HOUR),
        action: 'token.minted',
        actor: `agent:${bot}`,
        subject: `token:${hours}`,
        inputs: { audience: 'https://repos.example/api', scope: 'repo:read' },
      });
    }
    const out = (await auditSummary(ctx, {
      tenant: 'acme',
      window: '3h',
      buckets: '3',
    })) as unknown as Output;
    expect(out).toMatchObject({
      window: '3h',
      from: new Date(NOW - 3 * HOUR).toISOString(),
      to: new Date(NOW).toISOString(),
      buckets: 3,
    });
    expect(out.agents).toEqual([expect.objectContaining({ agent: bot, minted: 3 })]);
    expect(out.agents[0]?.series).toEqual([1, 1, 1]);
    // The defaults: a day in twelve bars.
    const day = (await auditSummary(ctx, { tenant: 'acme' })) as unknown as Output;
    expect(day).toMatchObject({ window: '24h', buckets: 12 });
    expect(day.agents[0]?.series).toHaveLength(12);
    expect(day.agents[0]?.minted).toBe(4);
    expect(
      ((await auditSummary(ctx, { tenant: 'acme', buckets: '1000' })) as unknown as Output)
        .agents[0]?.series,
    ).toHaveLength(1000);
  });

  it('shows only the agent named, even where another agent’s entry names it in its inputs', async () => {
    const { db, tenantId, agent, ctx } = await world();
    const [one, two] = [await agent('One'), await agent('Two')];
    const mint = (actor: string, inputs: Record<string, unknown>) =>
      appendAudit(db, {
        tenantId,
        at: new Date(NOW - HOUR),
        action: 'token.exchanged',
        actor,
        subject: 'token:x',
        inputs,
      });
    // One exchanged a token on Two's behalf: it counts for One, its actor.
    await mint(`agent:${one}`, { agent: two, audience: 'https://a.example/' });
    await mint(`agent:${two}`, { audience: 'https://b.example/' });
    const all = (await auditSummary(ctx, { tenant: 'acme' })) as unknown as Output;
    expect(all.agents.map((a) => [a.agent, a.minted]).sort()).toEqual(
      [
        [one, 1],
        [two, 1],
      ].sort(),
    );
    const onlyTwo = (await auditSummary(ctx, { tenant: 'acme', agent: two })) as unknown as Output;
    expect(onlyTwo.agents.map((a) => [a.agent, a.minted])).toEqual([[two, 1]]);
    const onlyOne = (await auditSummary(ctx, { tenant: 'acme', agent: one })) as unknown as Output;
    expect(onlyOne.agents.map((a) => [a.agent, a.minted])).toEqual([[one, 1]]);
  });

  it('refuses an unknown tenant or agent, an API as the agent, and a bad window or bar count', async () => {
    const { db, tenantId, ctx } = await world();
    const api = await seedClient(db, tenantId, 'api');
    const refusal = (args: Parameters<typeof auditSummary>[1]) =>
      auditSummary(ctx, args).then(
        () => 'accepted',
        (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
      );
    expect(await refusal({ tenant: 'nope' })).toMatch(/^ERR_NOT_FOUND/);
    expect(await refusal({ tenant: 'acme', agent: 'agent_nope' })).toBe(
      'ERR_NOT_FOUND: no agent "agent_nope" in tenant "acme"',
    );
    expect(await refusal({ tenant: 'acme', agent: api.clientId })).toMatch(/^ERR_NOT_FOUND/);
    for (const window of ['0m', '91d', '1.5h', 'week']) {
      expect(await refusal({ tenant: 'acme', window })).toMatch(
        new RegExp(`^ERR_INVALID: --window .*got "${window}"`),
      );
    }
    for (const buckets of ['0', '1001', '1.5', '-1', '01', 'ten', '']) {
      expect(await refusal({ tenant: 'acme', buckets })).toBe(
        `ERR_INVALID: --buckets must be a whole number from 1 to 1000; got "${buckets}"`,
      );
    }
  });
});
