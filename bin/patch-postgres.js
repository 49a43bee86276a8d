#!/usr/bin/env node
/**
 * postinstall: repairs postgres.js 3.4.9 (the latest release) where a connection that
 * PostgreSQL drops — a restart, pg_terminate_backend, a proxy's reset — breaks the
 * broker instead of failing one request. test/security/faults.test.ts found all three
 * by killing the broker's connections while agents mint:
 *
 * 1. The process crashes: `TypeError: Cannot read properties of null (reading
 *    'write')` from a setImmediate in nextWrite(), after closed() set the socket to
 *    null (porsager/postgres#1066, #1154, #1208). Guard: settle the write's queries
 *    with CONNECTION_CLOSED instead.
 * 2. A pool slot is poisoned for good: terminate() and closed() cancel the deferred
 *    flush without resetting `nextWriteTimer`, so no write on that connection is ever
 *    flushed again; every later query on it waits for connect_timeout, forever
 *    (LanternOps/breeze#3225). Reset the timer and the buffered chunk.
 * 3. A connection that lost its socket in the middle of a query keeps that query, and
 *    the server's last error, as its current state: after reconnecting, the next query
 *    waits behind the dead one forever, or fails with the old backend's error
 *    (porsager/postgres#1130, #1142, #1215). Settle and forget them when the socket closes.
 * 4. A transaction whose connection closed keeps sending: begin() rejects, but the
 *    callback's next statement (or its ROLLBACK) is executed on the closed connection,
 *    which takes it out of the pool's reach, or runs after a reconnect on a new session,
 *    outside the transaction; statements queued inside the transaction never settle
 *    (porsager/postgres#1155, #1186). Refuse and settle every statement of a
 *    transaction once its connection has closed.
 *
 * The same edits go into the three builds (ESM `src/`, CommonJS `cjs/src/`, Workers
 * `cf/src/`). Idempotent; fails loudly when postgres.js is another version, so that an
 * upgrade is checked against these defects (and this script dropped if fixed upstream).
 */
import console from 'node:console';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const VERSION = '3.4.9';
const MARK = '/* mandate: patched by bin/patch-postgres.js */\n';

/** [file, text to find, its replacement, how many times it occurs]. */
const EDITS = [
  // 1.
  [
    'connection.js',
    '  function nextWrite(fn) {\n',
    '  function nextWrite(fn) {\n' +
      '    if (!socket) {\n' +
      '      chunk = nextWriteTimer = null\n' +
      "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
      '      return false\n' +
      '    }\n',
    1,
  ],
  // 2. (in terminate() and closed())
  [
    'connection.js',
    '    clearImmediate(nextWriteTimer)\n',
    '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n',
    2,
  ],
  // 3. (closed(): on an error close, the socket's 'error' handler settled them already)
  [
    'connection.js',
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    "    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n" +
      '    query = results = errorResponse = null\n' +
      '    result = new Result()\n',
    1,
  ],
  // 4.
  [
    'index.js',
    '    let savepoints = 0\n',
    '    let closedError = null\n    let savepoints = 0\n',
    1,
  ],
  [
    'index.js',
    'new Promise((_, reject) => connection.onclose = reject)',
    'new Promise((_, reject) => connection.onclose = e => {\n' +
      '          closedError = e\n' +
      '          while (queries.length) queries.shift().reject(e)\n' +
      '          reject(e)\n' +
      '        })',
    1,
  ],
  [
    'index.js',
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n',
    '        q.catch(e => uncaughtError || (uncaughtError = e))\n' +
      '        if (closedError) return q.reject(closedError)\n',
    1,
  ],
];

const require = createRequire(import.meta.url);
// `postgres` resolves to <root>/cjs/src/index.js.
const root = dirname(dirname(dirname(require.resolve('postgres'))));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (version !== VERSION) {
  console.error(
    `bin/patch-postgres.js: postgres.js is ${version}, the patch is for ${VERSION}. ` +
      'Check whether the new version still has the defects this script repairs, then ' +
      'update or remove the script (and the postinstall entry in package.json).',
  );
  process.exit(1);
}

let patched = 0;
for (const build of ['src', 'cjs/src', 'cf/src']) {
  for (const name of ['connection.js', 'index.js']) {
    const file = join(root, build, name);
    let text = readFileSync(file, 'utf8');
    if (text.includes(MARK)) continue;
    for (const [target, find, replace, times] of EDITS) {
      if (target !== name) continue;
      const found = text.split(find).length - 1;
      if (found !== times) {
        console.error(
          `bin/patch-postgres.js: ${file}: expected ${times}× ${JSON.stringify(find)}, found ${found}`,
        );
        process.exit(1);
      }
      text = text.split(find).join(replace);
    }
    writeFileSync(file, MARK + text);
    patched++;
  }
}
console.log(`bin/patch-postgres.js: postgres.js ${version}: ${patched} files patched`);
