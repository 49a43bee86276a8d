/** Serves the operator endpoint on an ephemeral loopback port (Node only). */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { randomToken } from '../random.ts';
import type { OperatorContext } from './commands.ts';
import { operatorRoutes } from './routes.ts';

export interface OperatorServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startOperatorServer(
  ctx: OperatorContext,
  log: (message: string) => void,
): Promise<OperatorServer> {
  const token = randomToken(32);
  const app = operatorRoutes(ctx, token, log);
  // 127.0.0.1 rather than "localhost": the name may resolve to ::1 first, or to nothing.
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
