/**
 * The gateway and processor processes against a Kafka whose only listener is SASL_SSL (the harness's `kafkaSecure`:
 * SCRAM-SHA-512 over TLS with a private CA), configured as the operator configures their pods (KAFKA_TLS,
 * KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD; the CA through NODE_EXTRA_CA_CERTS), and over Redis with TLS
 * and an ACL user: a burst sells exactly the stock and the audit holds. A wrong Kafka password is refused, and no
 * secret value appears in logs, health or metrics.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const sale = uniqueSale('secsasl');

function redisTlsConfig() {
  const e = requireService('redisTls');
  return {
    mode: 'single' as const,
    nodes: parseAddrList(e.addr),
    username: e.username,
    password: e.password,
    tls: true,
  };
}

function env(kafkaPassword?: string) {
  const r = requireService('redisTls');
  const k = requireService('kafkaSecure');
  // one PEM file with both private CAs (NODE_EXTRA_CA_CERTS takes one file)
  return {
    ...saleProcEnv(sale, r.addr, k.brokers),
    REDIS_TLS: 'true',
    REDIS_USERNAME: r.username,
    REDIS_PASSWORD: r.password,
    KAFKA_TLS: 'true',
    KAFKA_SASL_MECHANISM: k.mechanism,
    KAFKA_USERNAME: k.username,
    KAFKA_PASSWORD: kafkaPassword ?? k.password,
    NODE_EXTRA_CA_CERTS: caBundle,
    LOG_LEVEL: 'debug',
  };
}

let caBundle = '';

beforeAll(async () => {
  const r = requireService('redisTls');
  const k = requireService('kafkaSecure');
  caBundle = join(mkdtempSync(join(tmpdir(), 'fse-ca-')), 'ca-bundle.pem');
  writeFileSync(caBundle, readFileSync(r.ca, 'utf8') + readFileSync(k.ca, 'utf8'));
  redis = createRedis(redisTlsConfig(), { tls: { ca: readFileSync(r.ca) } });
  redis.on('error', () => undefined);
  await prepareSale({
    redis,
    brokers: k.brokers,
    sale,
    items: { cap: 25, spare: 1000 },
    partitions: 2,
    kafka: {
      ssl: { ca: [readFileSync(k.ca, 'utf8')] },
      sasl: { mechanism: 'scram-sha-512', username: k.username, password: k.password },
    },
  });
  watch = await new StatusWatch(redisTlsConfig(), sale, { tls: { ca: readFileSync(r.ca) } }).start();
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  watch?.close();
  redis?.disconnect();
});

describe('Kafka with SASL/SCRAM over TLS (and Redis with TLS + ACL)', () => {
  it('gateway and processor sell exactly the stock; no secret in logs, health or metrics', async () => {
    const [gw, p] = await Promise.all([
      startGateway(env()),
      startProcessor({ ...env(), PAYMENT_FAILURE_RATE: '0', HOLD_TTL: '30s' }),
    ]);
    procs.push(gw, p);
    const log = await burst(gw.url, { items: ['cap'], total: 40, concurrency: 4 });
    const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 40_000 });
    assertBooks(audit);
    expect(audit.confirmed).toBe(25);
    const text =
      (await exposedText(gw, ['/health', '/metrics', '/ready'])) + (await exposedText(p, ['/health', '/metrics']));
    expect(text).toContain('order_processed');
    expect(text).not.toContain(requireService('kafkaSecure').password);
    expect(text).not.toContain(requireService('redisTls').password);
  }, 90_000);

  it('a wrong Kafka password: the gateway refuses orders with 503, the processor never serves; the value is nowhere', async () => {
    const wrong = `wrongKafka${Date.now()}`;
    const gw = await startGateway(env(wrong));
    procs.push(gw);
    const p = await startProcessor(env(wrong), { wait: false });
    procs.push(p);
    await sleep(3000);
    // an item with stock left (the first test sold `cap` out: the gateway would refuse it locally)
    const log = await burst(gw.url, { items: ['spare'], total: 3, concurrency: 1 });
    expect(log.accepted.size).toBe(0);
    expect(
      log.count((a) => a.status === 503),
      JSON.stringify(log.answers),
    ).toBe(3);
    const pHealth = await fetch(`${p.url}/health`)
      .then((r) => r.status)
      .catch(() => 0);
    expect(pHealth).not.toBe(200);
    const text = (await exposedText(gw, ['/health', '/metrics'])) + p.output;
    expect(text).toMatch(/SASL|[Aa]uthentication/);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(requireService('kafkaSecure').password);
  }, 60_000);
});
