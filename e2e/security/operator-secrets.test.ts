/**
 * The operator process with credentials from Secrets: a FlashSale on the harness's TLS + ACL Redis (`redisTls`) and
 * SASL_SSL Kafka (`kafkaSecure`), its usernames and passwords in Secrets the spec references, becomes Ready (the
 * operator seeded through the ACL user and created the topics as the SCRAM user); a second sale whose Secret holds a
 * wrong password is reported not Ready. No secret value, right or wrong, appears in the operator's log (debug level),
 * its metrics, the FlashSales' status, the events, or the objects it rendered (Deployments hold Secret references).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyManifest,
  condition,
  createNamespace,
  deleteNamespace,
  exampleSale,
  getJson,
  installCrd,
  kubectl,
  type Manifest,
  waitFor,
  waitReady,
} from '../../operator/test/support.ts';
import type { Proc } from '../support/procs.ts';
import { requireService } from '../support/services.ts';
import { createLiteralSecret, secureStores, startOperatorProc } from './support.ts';

let ns = '';
let op: Proc | undefined;
const wrongRedis = `wrongRedis${Date.now()}x`;

beforeAll(async () => {
  const r = requireService('redisTls');
  const k = requireService('kafkaSecure');
  await installCrd();
  ns = await createNamespace('sec');
  await createLiteralSecret(ns, 'redis-creds', { username: r.username, password: r.password });
  await createLiteralSecret(ns, 'redis-bad', { username: r.username, password: wrongRedis });
  await createLiteralSecret(ns, 'kafka-creds', { username: k.username, password: k.password });
  const ca = join(mkdtempSync(join(tmpdir(), 'fse-op-ca-')), 'ca.pem');
  writeFileSync(ca, readFileSync(r.ca, 'utf8') + readFileSync(k.ca, 'utf8'));
  op = await startOperatorProc(ns, { NODE_EXTRA_CA_CERTS: ca });
}, 60_000);

afterAll(async () => {
  await op?.stop(10_000);
  if (ns) await deleteNamespace(ns);
});

function secureSale(name: string, redisSecret: string): Manifest {
  return exampleSale(name, ns, (m) => {
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
    const ready = await waitReady(ns, good, 60_000);
    expect(condition(ready, 'InventorySeeded')?.status).toBe('True');
    expect(condition(ready, 'TopicsReady')?.status).toBe('True');
    const b = await waitFor(
      'the sale with the wrong Redis password not Ready, with a reason',
      async () => {
        const fs = await getJson('flashsale', ns, bad);
        const c = condition(fs, 'Ready');
        return c?.status === 'False' && c.message ? fs : null;
      },
      60_000,
    );
    expect(condition(b, 'Ready')?.message).toMatch(/redis|WRONGPASS|auth/i);

    const metrics = await fetch(`${op!.url}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const everything = [
      op!.output,
      metrics,
      await kubectl(['-n', ns, 'get', 'flashsales', '-o', 'json']),
      await kubectl(['-n', ns, 'get', 'events', '-o', 'json']),
      await kubectl(['-n', ns, 'get', 'deployments,configmaps,services', '-o', 'json']),
    ].join('\n');
    expect(op!.output).toMatch(/"level"/); // the log was captured
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
