/**
 * Cloudflare Workers driver: PostgreSQL through a Hyperdrive binding, with postgres.js
 * (its `workerd` build opens sockets with `cloudflare:sockets`).
 *
 * A Worker may not use a socket opened by another request ("Cannot perform I/O on behalf
 * of a different request"), so each request gets its own postgres.js client, opened
 * lazily on its first statement; Hyperdrive keeps the real connections pooled, which is
 * what makes that cheap. The app, though, lives as long as the isolate (its caches:
 * signing keys, compiled policies, status-list blocks), and its services hold one
 * `Database`. That database is drizzle over a stand-in client which hands each call to
 * the client of the request it runs in, found through AsyncLocalStorage (nodejs_compat).
 *
 * The client is never ended: Cloudflare's guidance for Hyperdrive is to let the runtime
 * drop it with the request, since `sql.end()` would wait on the pool.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { DatabaseHandle } from './database.ts';
import * as schema from './schema.ts';
import { APP_ROLE } from './tenancy.ts';

export interface HyperdriveOptions {
  /** Seconds to wait for a connection (MANDATE_DB_CONNECT_TIMEOUT). */
  connectTimeout?: number;
  /**
   * Connections one request may open. Hyperdrive's guidance is 5 at most: a request runs
   * a transaction or two, and a Worker may hold only six sockets at a time.
   */
  max?: number;
}

export interface RequestDatabase extends DatabaseHandle {
  /**
   * Runs `work` (a request's handling, a scheduled run) with a client of its own for
   * the connection string `connectionString`, which every statement of the handle's
   * `db` run inside it uses.
   */
  run<T>(connectionString: string, work: () => T): T;
}

/** The part of a postgres.js client that drizzle's postgres-js session calls. */
type SessionClient = Pick<postgres.Sql, 'unsafe' | 'begin' | 'options'>;

export function openHyperdrive(options: HyperdriveOptions = {}): RequestDatabase {
  const current = new AsyncLocalStorage<postgres.Sql>();
  const bound = (): postgres.Sql => {
    const client = current.getStore();
    if (!client) throw new Error('no database client: a statement ran outside a request');
    return client;
  };
  // drizzle keeps its value parsers on `options` of the client it is given (dates stay
  // text: it decodes them itself); each request's client gets the same ones below.
  const shared = { parsers: {}, serializers: {} } as postgres.Sql['options'];
  const standIn: SessionClient = {
    options: shared,
    unsafe: ((...args: Parameters<postgres.Sql['unsafe']>) =>
      bound().unsafe(...args)) as postgres.Sql['unsafe'],
    begin: ((...args: Parameters<postgres.Sql['begin']>) =>
      (bound().begin as (...a: unknown[]) => unknown)(...args)) as postgres.Sql['begin'],
  };
  // The stand-in has every member drizzle's postgres-js session touches (session.js:
  // unsafe, begin, options); a whole postgres.Sql would be a live client.
  const db = drizzle(standIn as postgres.Sql, { schema });

  return {
    db,
    driver: 'postgres',
    run(connectionString, work) {
      const client = postgres(connectionString, {
        max: options.max ?? 5,
        connect_timeout: options.connectTimeout ?? 5,
        // The schema has no array columns, so the round trip that loads array types is saved.
        fetch_types: false,
        onnotice: () => {},
        // As on Node (postgres.ts): the login may be any member of mandate_app.
        connection: { role: APP_ROLE },
      });
      Object.assign(client.options.parsers, shared.parsers);
      Object.assign(client.options.serializers, shared.serializers);
      return current.run(client, work);
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      // Nothing to close: each request's client goes with its request.
    },
  };
}
