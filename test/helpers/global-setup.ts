/**
 * Runs once per `vitest run`: migrates one template database, so that each test
 * gets a fresh copy in well under a second instead of migrating from empty.
 * - PGlite (default): a migrated in-memory instance dumped to a tarball.
 * - PostgreSQL (TEST_DATABASE_URL): a migrated template database, cloned per test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { adminUrl, createBrokerLogin, databaseUrl } from './pg-url.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dbTemplate: { driver: 'pglite'; dumpFile: string } | { driver: 'postgres'; template: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-test-'));
    const handle = await openPglite();
    const dump = await handle.client.dumpDataDir('none');
    await handle.close();
    const dumpFile = join(dir, 'migrated.tar');
    writeFileSync(dumpFile, new Uint8Array(await dump.arrayBuffer()));
    project.provide('dbTemplate', { driver: 'pglite', dumpFile });
    return () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    };
  }

  const template = `mandate_tpl_${process.pid}_${Date.now()}`;
  const admin = postgres(adminUrl(url), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${template}"`);
  } catch (cause) {
    await admin.end();
    throw new Error(`TEST_DATABASE_URL is set but PostgreSQL refused: ${String(cause)}`, { cause });
  }
  try {
    const handle = await openPostgres({ url: databaseUrl(url, template), max: 1 });
    await handle.close();
    await createBrokerLogin(admin);
  } catch (cause) {
    await admin.unsafe(`drop database if exists "${template}" with (force)`);
    await admin.end();
    throw cause;
  }
  project.provide('dbTemplate', { driver: 'postgres', template });
  return async () => {
    await admin.unsafe(`drop database if exists "${template}" with (force)`);
    await admin.end();
  };
}
