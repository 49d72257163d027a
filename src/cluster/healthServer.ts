/**
 * /healthz, /readyz and /livez for a node without the serve role (a poll or write node): the same
 * JSON shapes and status rules as the server's (src/server/health.ts: 503 only when failing), so
 * one probe config fits every node. Everything else is 404: such a node has no items to serve.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { healthResponse } from '../server/health.js';

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, health: () => Record<string, unknown>): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (path === '/livez' && (req.method === 'GET' || req.method === 'HEAD')) return void send(200, { status: 'alive' });
    if ((path !== '/healthz' && path !== '/readyz') || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route for ${path} on a node without the serve role` } }));
      return;
    }
    // No store of its own to check here: a write node's store failing ends its writer role.
    const h = healthResponse(true, health);
    if (path === '/readyz') return void send(h.httpStatus, { status: h.status, reason: h.reason });
    send(h.httpStatus, { status: h.status, reason: h.reason, ...h.rest });
  });
  server.listen(port, host);
  await once(server, 'listening');
  const actual = (server.address() as { port: number }).port;
  return {
    port: actual,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
