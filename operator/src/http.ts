/** /metrics, /healthz (informers alive) and /readyz (caches synced) on one small HTTP server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  healthz: () => { ok: boolean; detail: string };
  readyz: () => { ok: boolean; detail: string };
}

export async function startHttp(host: string, port: number, registry: Registry, checks: HealthChecks): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((e) => {
          res.writeHead(500);
          res.end(String(e));
        });
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const r = path === '/healthz' ? checks.healthz() : checks.readyz();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(r.ok ? 'ok' : r.detail);
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export const boundPort = (s: Server) => (s.address() as AddressInfo).port;
