/**
 * Which address a request came from, for the per-address limits. Only the
 * runtime's entry knows the peer (a socket on Node, a header on Workers), so the
 * app gets a resolver through its deps; this file holds the portable part.
 */
import type { Context } from 'hono';

/** The client's address as this runtime knows it; undefined when it cannot tell. */
export type ClientAddressResolver = (c: Context) => string | undefined;

/** What requests whose address nobody can tell (in-process tests, say) share as a bucket. */
export const UNKNOWN_ADDRESS = 'unknown';

/**
 * The client's address given the peer's (`socket`) and the X-Forwarded-For header,
 * when `trustedProxies` proxies that each append their peer to the header stand in
 * front of the broker. Counted from the right, since only what our own proxies
 * appended can be trusted: a client can put anything it likes at the left. With no
 * trusted proxy the header is ignored, because anyone can send it.
 */
export function clientAddressOf(
  socket: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: number,
): string | undefined {
  if (trustedProxies === 0 || forwardedFor === undefined) return socket;
  const chain = forwardedFor
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (socket !== undefined) chain.push(socket);
  // Fewer entries than proxies: the request skipped one; the furthest known hop is the best guess.
  return chain[Math.max(0, chain.length - 1 - trustedProxies)] ?? socket;
}
