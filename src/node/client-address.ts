/**
 * The client's address on Node (@hono/node-server): the socket's peer, or with
 * MANDATE_TRUSTED_PROXIES the entry our proxies appended to X-Forwarded-For.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { clientAddressOf, type ClientAddressResolver } from '../ratelimit/client-address.ts';

export function nodeClientAddress(trustedProxies: number): ClientAddressResolver {
  return (c) => clientAddressOf(socketAddress(c), c.req.header('x-forwarded-for'), trustedProxies);
}

/** The peer's address; undefined without a socket (a request made in-process, app.request). */
function socketAddress(c: Context): string | undefined {
  // Hono types the bindings as the app declares them; ours declares none.
  const bindings = c.env as { incoming?: unknown; server?: { incoming?: unknown } } | undefined;
  if (!bindings?.incoming && !bindings?.server?.incoming) return undefined;
  return getConnInfo(c).remote.address;
}
