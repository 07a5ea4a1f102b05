/**
 * The gateway and processor processes against a Redis that speaks TLS only and knows one ACL user (the harness's
 * `redisTls`): configured with REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD (the CA trusted through
 * NODE_EXTRA_CA_CERTS, as a pod mounting the CA Secret would), a burst sells exactly the stock and the audit holds;
 * a wrong password is refused and reported without the value. No secret value appears in their logs, /health or
 * /metrics.
 */
import { readFileSync } from 'node:fs';
import { createRedis, parseAddrList, type RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBooks, auditRun, StatusWatch } from '../support/audit.ts';
import { burst } from '../support/load.ts';
import { type Proc, sleep, startGateway, startProcessor } from '../support/procs.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { exposedText } from './support.ts';

const procs: Proc[] = [];
let redis: RedisClient;
let watch: StatusWatch;
const sale = uniqueSale('sectls');

function tlsRedisConfig() {
  const e = requireService('redisTls');
  return {
    mode: 'single' as const,
    nodes: parseAddrList(e.addr),
    username: e.username,
    password: e.password,
    tls: true,
  };
}

beforeAll(async () => {
  const e = requireService('redisTls');
  redis = createRedis(tlsRedisConfig(), { tls: { ca: readFileSync(e.ca) } });
  redis.on('error', () => undefined);
  await prepareSale({ redis, brokers: requireService('kafka').brokers, sale, items: { hat: 30 }, partitions: 2 });
  // the audit's subscriber connects with the same ACL user (channels fs:*)
  watch = await new StatusWatch(tlsRedisConfig(), sale, { tls: { ca: readFileSync(e.ca) } }).start();
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  watch?.close();
  redis?.disconnect();
});

describe('Redis with TLS and an ACL user', () => {
  it('gateway and processor work through TLS + ACL; no secret in logs, health or metrics', async () => {
    const e = requireService('redisTls');
    const env = {
      ...saleProcEnv(sale, e.addr, requireService('kafka').brokers),
      REDIS_TLS: 'true',
      REDIS_USERNAME: e.username,
      REDIS_PASSWORD: e.password,
      NODE_EXTRA_CA_CERTS: e.ca,
      LOG_LEVEL: 'debug',
    };
    const [gw, p] = await Promise.all([
      startGateway(env),
      startProcessor({ ...env, PAYMENT_FAILURE_RATE: '0', HOLD_TTL: '30s' }),
    ]);
    procs.push(gw, p);
    const log = await burst(gw.url, { items: ['hat'], total: 50, concurrency: 4 });
    const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 40_000 });
    assertBooks(audit);
    expect(audit.confirmed).toBe(30);
    expect(audit.statuses.CONFIRMED).toBe(30);

    const text =
      (await exposedText(gw, ['/health', '/metrics', '/ready'])) + (await exposedText(p, ['/health', '/metrics']));
    expect(text).toContain('order_processed'); // the logs were captured
    expect(text).not.toContain(e.password);
  }, 90_000);

  it('a wrong password is refused: not healthy, and the value is in no log, health or metrics output', async () => {
    const e = requireService('redisTls');
    const wrong = `wrong-${e.password.slice(0, 4)}-Zq81`;
    const env = {
      ...saleProcEnv(sale, e.addr, requireService('kafka').brokers),
      REDIS_TLS: 'true',
      REDIS_USERNAME: e.username,
      REDIS_PASSWORD: wrong,
      NODE_EXTRA_CA_CERTS: e.ca,
      LOG_LEVEL: 'debug',
    };
    const gw = await startGateway(env);
    procs.push(gw);
    const p = await startProcessor(env, { wait: false });
    procs.push(p);
    await sleep(3000);
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { redis?: boolean }).redis).toBe(false);
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
