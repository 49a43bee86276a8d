/** Shared setup for policy tests: a fresh database with tenants, an engine, requests. */
import { afterEach } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { loadNodeCedar, type CedarApi } from '../../src/policy/cedar.ts';
import { PolicyEngine, type PolicyEngineOptions } from '../../src/policy/engine.ts';
import type { DecisionRequest } from '../../src/policy/request.ts';
import { createTenant, tenantIdOf } from '../../src/registry/tenants.ts';
import { freshDatabase } from '../helpers/db.ts';

let open: TestDatabase[] = [];

export function closeDatabasesAfterEach(): void {
  afterEach(async () => {
    await Promise.all(open.map((d) => d.close()));
    open = [];
  });
}

export interface PolicyWorld {
  database: TestDatabase;
  cedar: CedarApi;
  engine: PolicyEngine;
  /** Tenant ids by slug. */
  tenants: Record<string, string>;
}

export async function policyWorld(
  slugs: string[] = ['acme'],
  options: Partial<PolicyEngineOptions> = {},
): Promise<PolicyWorld> {
  const database = await freshDatabase();
  open.push(database);
  const tenants: Record<string, string> = {};
  for (const slug of slugs) {
    await createTenant(database.owner, slug);
    tenants[slug] = await tenantIdOf(database.owner, slug);
  }
  const cedar = await loadNodeCedar();
  // Tests check every request against the schema too, and see pushes at once.
  const engine = new PolicyEngine({
    db: database.owner,
    cedar,
    refreshMs: 0,
    validateRequests: true,
    ...options,
  });
  return { database, cedar, engine, tenants };
}

export const MAIL = 'https://mail.example/api';
export const REPOS = 'https://repos.example/api';

/** A routine mint: one read scope, five minutes, a known API, a calm agent. */
export function mintRequest(overrides: Partial<DecisionRequest> = {}): DecisionRequest {
  return {
    action: 'MintTaskToken',
    agent: 'agent_planner',
    person: 'user-ada',
    targets: [{ audience: MAIL, scopes: [{ name: 'mail:read', sensitivity: 'read' }] }],
    task: { id: 'task-1', purpose: 'summarise the inbox' },
    requestedTtl: 300,
    ttlCeiling: 900,
    at: '2026-03-02T10:00:00.000Z',
    signals: { firstUse: false, recentCount: 2, baselinePerHour: 3, recentOverruns: 0 },
    ...overrides,
  };
}

export const ADMIN = { name: 'mail:admin', sensitivity: 'admin' } as const;
