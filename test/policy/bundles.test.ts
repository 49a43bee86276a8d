/**
 * Bundles per tenant: validated against the schema before they are stored,
 * versioned with their digest, the highest version in force, tenants apart.
 */
import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { auditEntries } from '../../src/db/schema.ts';
import { bundleDigest } from '../../src/policy/bundle.ts';
import { defaultBundleRef, listBundles, pushBundle } from '../../src/policy/bundles.ts';
import { DEFAULT_BUNDLE } from '../../src/policy/default-bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { ADMIN, closeDatabasesAfterEach, MAIL, mintRequest, policyWorld, REPOS } from './world.ts';

closeDatabasesAfterEach();

/** The tenant's `policy.pushed` ledger entries, oldest first. */
const pushedEntries = (db: Database, tenantId: string) =>
  db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.tenantId, tenantId))
    .orderBy(asc(auditEntries.id))
    .then((rows) => rows.filter((r) => r.action === 'policy.pushed'));

const DENY_ALL = `@id("lockdown") forbid (principal, action, resource);\n@id("base") permit (principal, action, resource);\n`;
const ALLOW_ALL = `@id("open") permit (principal, action, resource);\n`;

describe('pushing a bundle', () => {
  it('stores version 1, then 2, with SHA-256 digests; the highest version decides', async () => {
    const { database, cedar, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const first = await pushBundle(database.owner, tenant, DENY_ALL, 'operator', cedar);
    expect(first).toMatchObject({
      version: 1,
      unchanged: false,
      digest: await bundleDigest(DENY_ALL),
    });
    expect((await engine.decide(tenant, mintRequest())).outcome).toBe('DENY');

    const second = await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    expect(second.version).toBe(2);
    const d = await engine.decide(tenant, mintRequest());
    expect(d).toMatchObject({ outcome: 'ALLOW', reasons: ['open'] });
    expect(d.policy).toEqual({ id: second.id, version: 2, digest: second.digest });

    const listed = await listBundles(database.owner, tenant);
    expect(listed.map((b) => [b.version, b.inForce, b.pushedBy])).toEqual([
      [2, true, 'operator'],
      [1, false, 'operator'],
      [0, false, 'broker'],
    ]);
  });

  it('refuses a bundle that does not validate, with the validator’s message; the old one still decides', async () => {
    const { database, cedar, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    await pushBundle(database.owner, tenant, DENY_ALL, 'operator', cedar);

    const typo = `@id("base") permit (principal, action, resource)\nwhen { context.risky > 50 };\n`;
    const err = await pushBundle(database.owner, tenant, typo, 'operator', cedar).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_BUNDLE_INVALID' });
    const message = (err as Error).message;
    // Cedar's own words, where they point, and its suggestion.
    expect(message).toContain('attribute `risky` in context');
    expect(message).toContain('line 2, column 8');
    expect(message).toContain('did you mean `risk`?');

    expect(await listBundles(database.owner, tenant)).toHaveLength(2);
    const d = await engine.decide(tenant, mintRequest());
    expect(d).toMatchObject({ outcome: 'DENY', policy: { version: 1 }, reasons: ['lockdown'] });
  });

  it('refuses what Cedar cannot parse, and what breaks the annotation convention', async () => {
    const { database, cedar, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const refusal = (text: string) =>
      pushBundle(database.owner, tenant, text, 'operator', cedar).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    expect(await refusal('permit (principal, action, resource')).toMatch(
      /line 1, column 36: .*unexpected end of input/,
    );
    expect(
      await refusal('permit (principal, action == Mandate::Action::"Fly", resource);'),
    ).toMatch(/Fly/);
    expect(await refusal('@outcome("deny") permit (principal, action, resource);')).toContain(
      'write a forbid to deny',
    );
    expect(await refusal('@outcome("reuse") forbid (principal, action, resource);')).toContain(
      'a forbid always denies',
    );
    expect(await refusal('@outcome("adapt") permit (principal, action, resource);')).toContain(
      'narrows nothing',
    );
    expect(
      await refusal('@outcome("adapt") @max_ttl("5m") permit (principal, action, resource);'),
    ).toContain('not a whole number of seconds');
    expect(await refusal('@max_ttl("60") permit (principal, action, resource);')).toContain(
      'is not @outcome("adapt")',
    );
    expect(
      await refusal(
        '@id("a") permit (principal, action, resource);\n@id("a") permit (principal, action, resource);',
      ),
    ).toContain('two policies have the id `a`');
    expect(await refusal('// nothing here\n')).toContain('no policies');
    expect(await listBundles(database.owner, tenant)).toHaveLength(1); // only the default
  });

  it('treats pushing the bundle in force again as a no-op', async () => {
    const { database, cedar, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const first = await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    const again = await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    expect(again).toMatchObject({ id: first.id, version: 1, unchanged: true });
  });

  it('keeps tenants apart: a push to one changes nothing for another', async () => {
    const { database, cedar, engine, tenants } = await policyWorld(['acme', 'globex']);
    const acme = tenants.acme ?? '';
    const globex = tenants.globex ?? '';
    await pushBundle(database.owner, acme, DENY_ALL, 'operator', cedar);
    await pushBundle(database.owner, globex, ALLOW_ALL, 'operator', cedar);
    await pushBundle(
      database.owner,
      globex,
      DEFAULT_BUNDLE.replace('>= 3', '>= 1'),
      'operator',
      cedar,
    );

    const calm = mintRequest();
    const strayed = mintRequest({
      signals: { firstUse: false, recentCount: 1, baselinePerHour: 1, recentOverruns: 1 },
    });
    expect(await engine.decide(acme, calm)).toMatchObject({
      outcome: 'DENY',
      policy: { version: 1 },
    });
    expect(await engine.decide(globex, calm)).toMatchObject({
      outcome: 'ALLOW',
      policy: { version: 2 },
    });
    expect((await engine.decide(globex, strayed)).outcome).toBe('DENY');

    const { tenants: more, database: db2 } = await policyWorld(['initech']);
    const fresh = new PolicyEngine({ db: db2.db, cedar, refreshMs: 0 });
    expect(await fresh.decide(more.initech ?? '', strayed)).toMatchObject({
      outcome: 'ALLOW',
      policy: await defaultBundleRef(),
    });
    expect((await listBundles(database.owner, acme)).map((b) => b.version)).toEqual([1, 0]);
  });

  it('adapts by dropping scopes: by name, or the scope a permit matched', async () => {
    const { database, cedar, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const bundle = `
      @id("base") permit (principal, action, resource);
      @id("no-send-at-night") @outcome("adapt") @drop_scopes("mail:send")
      permit (principal, action == Mandate::Action::"MintTaskToken", resource)
      when { context.hour < 6 };
      @id("no-admin-for-new-apis") @outcome("adapt") @drop_scope
      permit (principal, action, resource is Mandate::Scope)
      when { resource.sensitivity == "admin" && context.first_use };
    `;
    await pushBundle(database.owner, tenant, bundle, 'operator', cedar);
    const read = { name: 'mail:read', sensitivity: 'read' } as const;
    const send = { name: 'mail:send', sensitivity: 'write' } as const;

    const night = await engine.decide(
      tenant,
      mintRequest({
        targets: [{ audience: MAIL, scopes: [read, send] }],
        at: '2026-03-02T03:00:00Z',
      }),
    );
    expect(night).toMatchObject({
      outcome: 'ADAPT',
      adapt: {
        scopes: ['mail:read'],
        dropped: ['mail:send'],
        targets: [{ audience: MAIL, scopes: ['mail:read'] }],
      },
      reasons: ['no-send-at-night'],
    });
    const day = await engine.decide(
      tenant,
      mintRequest({
        targets: [{ audience: MAIL, scopes: [read, send] }],
        at: '2026-03-02T13:00:00Z',
      }),
    );
    expect(day.outcome).toBe('ALLOW');

    // A CIBA request over two APIs: the one left without scopes goes, the other stays.
    const request = await engine.decide(
      tenant,
      mintRequest({
        action: 'RequestGrant',
        targets: [
          { audience: MAIL, scopes: [ADMIN] },
          { audience: REPOS, scopes: [{ name: 'repo:read', sensitivity: 'read' }] },
        ],
        signals: { firstUse: true, recentCount: 0, baselinePerHour: 0, recentOverruns: 0 },
      }),
    );
    expect(request.adapt).toEqual({
      scopes: ['repo:read'],
      dropped: ['mail:admin'],
      targets: [{ audience: REPOS, scopes: ['repo:read'] }],
    });
    // Dropping every scope leaves nothing to grant.
    const nothing = await engine.decide(
      tenant,
      mintRequest({ targets: [{ audience: MAIL, scopes: [send] }], at: '2026-03-02T03:00:00Z' }),
    );
    expect(nothing.outcome).toBe('DENY');
    expect(nothing.explanation).toContain('would drop every scope');
  });

  it('denies when no permit matches a scope, naming it', async () => {
    const { database, cedar, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    await pushBundle(
      database.owner,
      tenant,
      `@id("reads") permit (principal, action, resource is Mandate::Scope) when { resource.sensitivity == "read" };`,
      'operator',
      cedar,
    );
    const d = await engine.decide(
      tenant,
      mintRequest({
        targets: [{ audience: MAIL, scopes: [{ name: 'mail:read', sensitivity: 'read' }, ADMIN] }],
      }),
    );
    expect(d).toMatchObject({ outcome: 'DENY', reasons: [] });
    expect(d.explanation).toBe('DENY: no policy permits mail:admin');
  });

  it('sees a push by another process within refreshMs, and at once after invalidate', async () => {
    const { database, cedar, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    let now = Date.parse('2026-03-02T10:00:00Z');
    const engine = new PolicyEngine({
      db: database.owner,
      cedar,
      refreshMs: 1000,
      clock: { now: () => new Date(now) },
    });
    expect((await engine.decide(tenant, mintRequest())).policy.version).toBe(0);
    await pushBundle(database.owner, tenant, DENY_ALL, 'operator', cedar);
    expect((await engine.decide(tenant, mintRequest())).policy.version).toBe(0);
    now += 1000;
    expect((await engine.decide(tenant, mintRequest())).policy.version).toBe(1);
    await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    engine.invalidate(tenant);
    expect((await engine.decide(tenant, mintRequest())).policy.version).toBe(2);
    expect((await engine.push(tenant, DENY_ALL, 'operator')).version).toBe(3);
    expect((await engine.decide(tenant, mintRequest())).policy.version).toBe(3);
  });
});

describe('the policy.pushed ledger entry', () => {
  it('records each stored version with the one it replaces, in the push’s own transaction', async () => {
    const { database, cedar, tenants } = await policyWorld(['acme', 'globex']);
    const tenant = tenants.acme ?? '';
    const shipped = await defaultBundleRef();
    const at = new Date('2026-03-02T10:00:00.000Z');
    const first = await pushBundle(database.owner, tenant, DENY_ALL, 'operator', cedar, {
      now: () => at,
    });
    const second = await pushBundle(database.owner, tenant, ALLOW_ALL, 'user:ada', cedar);

    const entries = await pushedEntries(database.owner, tenant);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      at,
      actor: 'operator',
      subject: 'policy:1',
      decision: null,
      inputs: {
        id: first.id,
        version: 1,
        digest: first.digest,
        previous_id: 'default',
        previous_version: 0,
        previous_digest: shipped.digest,
      },
    });
    expect(entries[1]).toMatchObject({
      actor: 'user:ada',
      subject: 'policy:2',
      inputs: {
        id: second.id,
        version: 2,
        digest: second.digest,
        previous_id: first.id,
        previous_version: 1,
        previous_digest: first.digest,
      },
    });
    // Recorded in the tenant's own ledger only.
    expect(await pushedEntries(database.owner, tenants.globex ?? '')).toEqual([]);
  });

  it('records nothing for a refused bundle or for pushing the bundle in force again', async () => {
    const { database, cedar, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const refused = await pushBundle(
      database.owner,
      tenant,
      'permit (principal, action, resource',
      'operator',
      cedar,
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_BUNDLE_INVALID' });
    expect(await pushedEntries(database.owner, tenant)).toEqual([]);

    await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    const again = await pushBundle(database.owner, tenant, ALLOW_ALL, 'operator', cedar);
    expect(again.unchanged).toBe(true);
    expect((await engine.push(tenant, ALLOW_ALL, 'operator')).unchanged).toBe(true);
    expect((await pushedEntries(database.owner, tenant)).map((e) => e.subject)).toEqual([
      'policy:1',
    ]);
  });

  it('stores no version when its entry cannot be written: both commit or neither', async () => {
    const { database, cedar, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    // An empty actor is refused by the ledger, after the bundle row was inserted.
    const err = await pushBundle(database.owner, tenant, ALLOW_ALL, '', cedar).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_AUDIT_INVALID' });
    expect((await listBundles(database.owner, tenant)).map((b) => b.version)).toEqual([0]);
    expect(await pushedEntries(database.owner, tenant)).toEqual([]);
  });

  it('gives concurrent pushes distinct versions, each with exactly one entry', async () => {
    const { database, cedar, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const texts = Array.from(
      { length: 4 },
      (_, i) => `@id("p${i}") permit (principal, action, resource);\n`,
    );
    const pushed = await Promise.all(
      texts.map((t) => pushBundle(database.owner, tenant, t, 'operator', cedar)),
    );
    expect(pushed.map((p) => p.version).sort()).toEqual([1, 2, 3, 4]);
    const entries = await pushedEntries(database.owner, tenant);
    expect(entries.map((e) => e.subject).sort()).toEqual([
      'policy:1',
      'policy:2',
      'policy:3',
      'policy:4',
    ]);
    for (const p of pushed) {
      expect(entries.find((e) => e.subject === `policy:${p.version}`)?.inputs).toMatchObject({
        id: p.id,
        digest: p.digest,
        previous_version: p.version - 1,
      });
    }
  });
});
