/** /metrics (Prometheus) and /health on one small HTTP server. */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthState {
  status: 'healthy' | 'unhealthy';
  redis: boolean;
  kafka: boolean;
  draining: boolean;
}

export function startHttp(
  host: string,
  port: number,
  registry: Registry,
  health: () => Promise<HealthState>,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
        .catch((e) => res.writeHead(500).end(String(e)));
      return;
    }
    if (path === '/health' || path === '/healthz' || path === '/readyz') {
      health()
        .then((h) =>
          res
            .writeHead(h.status === 'healthy' ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify(h)),
        )
        .catch((e) => res.writeHead(503).end(JSON.stringify({ status: 'unhealthy', error: String(e) })));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
