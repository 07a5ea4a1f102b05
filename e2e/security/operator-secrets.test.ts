/**
 * The operator process with credentials from Secrets: a FlashSale on the harness's TLS + ACL Redis (`redisTls`) and
 * SASL_SSL Kafka (`kafkaSecure`), its usernames and passwords in Secrets the spec references, becomes Ready (the
 * operator seeded through the ACL user and created the topics as the SCRAM user); a second sale whose Secret holds a
 * wrong password is reported not Ready. No secret value, right or wrong, appears in the operator's log (debug level),
 * its metrics, the FlashSales' status, the events, or the objects it rendered (Deployments hold Secret references).
 */
import { describe, expect, it } from 'vitest';
import {
  applyManifest,
  condition,
  exampleSale,
  getJson,
  type Manifest,
  waitReady,
} from '../../operator/test/support.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';
import { caBundleFile, createLiteralSecret, secureStores, useSecureOperator } from './support.ts';

const wrongRedis = `wrongRedis${Date.now()}x`;
// the operator trusts the two private CAs through NODE_EXTRA_CA_CERTS; one more Secret holds a wrong password
const sec = useSecureOperator('sec', {
  setup: (namespace) =>
    createLiteralSecret(namespace, 'redis-bad', {
      username: requireService('redisTls').username,
      password: wrongRedis,
    }),
  env: () => ({ NODE_EXTRA_CA_CERTS: caBundleFile() }),
});

function secureSale(name: string, redisSecret: string): Manifest {
  return exampleSale(name, sec.ns, (m) => {
    Object.assign(m.spec, secureStores(redisSecret, 'kafka-creds'));
    m.spec.deletionPolicy = 'Retain';
  });
}

describe('the operator with credentials from Secrets', () => {
  it('reaches TLS+ACL Redis and SASL_SSL Kafka; a wrong password is reported; no secret value anywhere', async () => {
    const good = `good-${Date.now() % 100000}`;
    const bad = `bad-${Date.now() % 100000}`;
    await applyManifest(secureSale(good, 'redis-creds'));
    await applyManifest(secureSale(bad, 'redis-bad'));
    const ready = await waitReady(sec.ns, good, 60_000);
    expect(condition(ready, 'InventorySeeded')?.status).toBe('True');
    expect(condition(ready, 'TopicsReady')?.status).toBe('True');
    const b = await eventually(
      'the sale with the wrong Redis password not Ready, with a reason',
      async () => {
        const fs = await getJson('flashsale', sec.ns, bad);
        const c = condition(fs, 'Ready');
        return c?.status === 'False' && c.message ? fs : null;
      },
      60_000,
    );
    expect(condition(b, 'Ready')?.message).toMatch(/redis|WRONGPASS|auth/i);

    const everything = await sec.exposed();
    expect(sec.op.output).toMatch(/"level"/); // the log was captured
    expect(everything).toContain('secretKeyRef');
    for (const secretValue of [
      requireService('redisTls').password,
      requireService('kafkaSecure').password,
      wrongRedis,
    ]) {
      expect(everything.includes(secretValue), 'a secret value leaked').toBe(false);
    }
  }, 110_000);
});
