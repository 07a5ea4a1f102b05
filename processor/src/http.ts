/**
 * /metrics (Prometheus) and the probes on one small HTTP server.
 * - /livez (and /healthz): liveness, the process answers; nothing external, so a Redis or Kafka blip never makes
 *   Kubernetes restart every processor (a restart would not bring Redis back, and drops the batch in flight).
 * - /readyz (and /ready): readiness, Redis answers a PING within HEALTH_CHECK_TIMEOUT, the consumer is in its group
 *   and the processor is not draining; 503 otherwise.
 * - /health: the runbook's JSON {status: healthy|unhealthy, redis, kafka, draining}, 200 or 503 (same checks as
 *   readiness, kept for dashboards and scripts).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
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
  const json = (res: ServerResponse, code: number, body: unknown) =>
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
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
    if (path === '/livez' || path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz' || path === '/ready' || path === '/health') {
      health()
        .then((h) => {
          const ok = h.status === 'healthy';
          if (path === '/health') json(res, ok ? 200 : 503, h);
          else json(res, ok ? 200 : 503, { ...h, status: ok ? 'ready' : 'not_ready' });
        })
        .catch((e) => json(res, 503, { status: path === '/health' ? 'unhealthy' : 'not_ready', error: String(e) }));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
