/**
 * /healthz for a node without the serve role (a poll or write node): the same JSON shape as the
 * server's, so one probe config fits every node. Everything else is 404: such a node has no
 * items to serve.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, health: () => Record<string, unknown>): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route for ${path} on a node without the serve role` } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = health();
    } catch (err) {
      body = { status: 'degraded', healthError: err instanceof Error ? err.message : String(err) };
    }
    res.writeHead(body.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
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
