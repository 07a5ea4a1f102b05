/**
 * The gateway and processor processes against a Redis that speaks TLS only and knows one ACL user (the harness's
 * `redisTls`): configured with REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD (the CA trusted through
 * NODE_EXTRA_CA_CERTS, as a pod mounting the CA Secret would), a burst sells exactly the stock and the audit holds;
 * a wrong password is refused and reported without the value. No secret value appears in their logs, /health or
 * /metrics.
 */
import { describe, expect, it } from 'vitest';
import { startGateway, startProcessor } from '../support/procs.ts';
import { uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';
import { exposedText, secureProcEnv, useSecureSale } from './support.ts';

// Kafka stays the plaintext one here: this file is about Redis
const sec = useSecureSale(uniqueSale('sectls'), { items: { hat: 30 }, kafka: 'plain' });
const { sale, procs } = sec;
const env = (redisPassword?: string) => ({
  ...secureProcEnv(sale, { kafka: 'plain', ...(redisPassword ? { redisPassword } : {}) }),
  NODE_EXTRA_CA_CERTS: requireService('redisTls').ca,
});

describe('Redis with TLS and an ACL user', () => {
  it('gateway and processor work through TLS + ACL; no secret in logs, health or metrics', async () => {
    const { audit, exposed } = await sec.sell(env(), { item: 'hat', total: 50, concurrency: 4 });
    expect(audit.confirmed).toBe(30);
    expect(audit.statuses.CONFIRMED).toBe(30);
    expect(exposed).toContain('order_processed'); // the logs were captured
    expect(exposed).not.toContain(requireService('redisTls').password);
  }, 90_000);

  it('a wrong password is refused: not healthy, and the value is in no log, health or metrics output', async () => {
    const e = requireService('redisTls');
    const wrong = `wrong-${e.password.slice(0, 4)}-Zq81`;
    const gw = await startGateway(env(wrong));
    procs.push(gw);
    const p = await startProcessor(env(wrong), { wait: false });
    procs.push(p);
    await eventually('the gateway to report Redis refused', async () => {
      const health = await fetch(`${gw.url}/health`);
      return health.status === 503 && ((await health.json()) as { redis?: boolean }).redis === false;
    });
    await eventually(
      'the processor to report the refused login (or to exit)',
      () => !p.alive || /WRONGPASS|NOAUTH/i.test(p.output),
    );
    // the processor cannot start its work without Redis: it exits or stays unhealthy, never serves
    const pHealth = await fetch(`${p.url}/health`)
      .then((r) => r.status)
      .catch(() => 0);
    expect(pHealth).not.toBe(200);
    const text = (await exposedText(gw, ['/health', '/metrics'])) + p.output;
    expect(text).toMatch(/WRONGPASS|auth|NOAUTH|redis/i); // the refusal is reported...
    expect(text).not.toContain(wrong); // ...without the value
    expect(text).not.toContain(e.password);
  }, 60_000);
});
