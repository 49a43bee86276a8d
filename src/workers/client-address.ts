/**
 * The client's address on Workers: Cloudflare's edge sets `CF-Connecting-IP` on every
 * request it hands a Worker, replacing whatever the client sent, so unlike
 * X-Forwarded-For it can be believed without counting proxies.
 */
import type { ClientAddressResolver } from '../ratelimit/client-address.ts';

export const cloudflareClientAddress: ClientAddressResolver = (c) =>
  c.req.header('cf-connecting-ip');
