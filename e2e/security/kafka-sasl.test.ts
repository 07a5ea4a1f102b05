/**
 * The gateway and processor processes against a Kafka whose only listener is SASL_SSL (the harness's `kafkaSecure`:
 * SCRAM-SHA-512 over TLS with a private CA), configured as the operator configures their pods (KAFKA_TLS,
 * KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD; the CA through NODE_EXTRA_CA_CERTS), and over Redis with TLS
 * and an ACL user: a burst sells exactly the stock and the audit holds. A wrong Kafka password is refused, and no
 * secret value appears in logs, health or metrics.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { burst } from '../support/load.ts';
import { startGateway, startProcessor } from '../support/procs.ts';
import { uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';
import { caBundleFile, exposedText, secureProcEnv, useSecureSale } from './support.ts';

const sec = useSecureSale(uniqueSale('secsasl'), { items: { cap: 25, spare: 1000 } });
const { sale, procs } = sec;
let caBundle = '';
beforeAll(() => {
  caBundle = caBundleFile();
});
const env = (kafkaPassword?: string) => ({
  ...secureProcEnv(sale, kafkaPassword ? { kafkaPassword } : {}),
  NODE_EXTRA_CA_CERTS: caBundle,
});

describe('Kafka with SASL/SCRAM over TLS (and Redis with TLS + ACL)', () => {
  it('gateway and processor sell exactly the stock; no secret in logs, health or metrics', async () => {
    const { audit, exposed } = await sec.sell(env(), { item: 'cap', total: 40, concurrency: 4 });
    expect(audit.confirmed).toBe(25);
    expect(exposed).toContain('order_processed');
    expect(exposed).not.toContain(requireService('kafkaSecure').password);
    expect(exposed).not.toContain(requireService('redisTls').password);
  }, 90_000);

  it('a wrong Kafka password: the gateway refuses orders with 503, the processor never serves; the value is nowhere', async () => {
    const wrong = `wrongKafka${Date.now()}`;
    const gw = await startGateway(env(wrong));
    procs.push(gw);
    const p = await startProcessor(env(wrong), { wait: false });
    procs.push(p);
    await eventually(
      'the processor to report the refused login (or to exit)',
      () => !p.alive || /SASL|[Aa]uthentication/.test(p.output),
      30_000,
    );
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
