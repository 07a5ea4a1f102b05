/**
 * `tls.caSecretRef` and `tls.insecureSkipVerify` through the operator, on the real API server, against the harness's
 * TLS + ACL Redis (`redisTls`) and SASL_SSL Kafka (`kafkaSecure`), each with its own private CA. The operator runs
 * WITHOUT NODE_EXTRA_CA_CERTS: it trusts only what the spec's CA Secrets hold.
 * - a sale whose spec references the two CA bundles becomes Ready (the operator seeded Redis and created the topics
 *   through the CAs it read from the Secret); its gateway and processor Deployments and their pods mount the Secret
 *   keys read-only as files under /etc/flashsale/tls/, and carry only the paths (REDIS_TLS_CA_FILE, KAFKA_TLS_CA_FILE);
 * - a sale with insecureSkipVerify and no CA also becomes Ready, with *_TLS_INSECURE_SKIP_VERIFY=true in its ConfigMap;
 * - a sale with neither is not Ready, its condition naming the certificate failure;
 * - no CA content or password appears in Deployments, ConfigMaps, pods, status, events, or the operator's log and
 *   metrics.
 */
import { describe, expect, it } from 'vitest';
import { LABELS } from '../../operator/src/api/types.ts';
import {
  applyManifest,
  condition,
  exampleSale,
  getJson,
  type Json,
  kubectl,
  type Manifest,
  waitReady,
} from '../../operator/test/support.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';
import { caFragments, secureStores, useSecureOperator } from './support.ts';

// the operator runs WITHOUT NODE_EXTRA_CA_CERTS; the sales' CA bundles are in the Secret sale-cas
const sec = useSecureOperator('tlsca', {
  setup: async (namespace) => {
    const r = requireService('redisTls');
    const k = requireService('kafkaSecure');
    await kubectl([
      '-n',
      namespace,
      'create',
      'secret',
      'generic',
      'sale-cas',
      `--from-file=redis.pem=${r.ca}`,
      `--from-file=kafka.pem=${k.ca}`,
    ]);
  },
});

type Trust = { redis: Json; kafka: Json };

function secureSale(name: string, tls: Trust): Manifest {
  return exampleSale(name, sec.ns, (m) => {
    Object.assign(m.spec, secureStores('redis-creds', 'kafka-creds', tls));
    m.spec.deletionPolicy = 'Retain';
  });
}

describe('the operator with CA bundles from Secrets', () => {
  it('mounts the CA Secret keys read-only, passes only their paths, trusts them itself; skip-verify and no-CA cases', async () => {
    const s = Date.now() % 100000;
    const withCa = `ca-${s}`;
    const insecure = `insecure-${s}`;
    const noCa = `noca-${s}`;
    await applyManifest(
      secureSale(withCa, {
        redis: { caSecretRef: { name: 'sale-cas', key: 'redis.pem' } },
        kafka: { caSecretRef: { name: 'sale-cas', key: 'kafka.pem' } },
      }),
    );
    await applyManifest(
      secureSale(insecure, { redis: { insecureSkipVerify: true }, kafka: { insecureSkipVerify: true } }),
    );
    await applyManifest(secureSale(noCa, { redis: {}, kafka: {} }));

    const ready = await waitReady(sec.ns, withCa, 60_000);
    expect(condition(ready, 'InventorySeeded')?.status).toBe('True');
    expect(condition(ready, 'TopicsReady')?.status).toBe('True');
    await waitReady(sec.ns, insecure, 60_000);
    const refused = await eventually(
      'the sale without a CA not Ready, with a reason',
      async () => {
        const fs = await getJson('flashsale', sec.ns, noCa);
        const c = condition(fs, 'Ready');
        return c?.status === 'False' && /certificate/i.test(c.message ?? '') ? fs : null;
      },
      60_000,
    );
    expect(condition(refused, 'Ready')?.message).toMatch(/self[- ]signed certificate|unable to verify|certificate/i);

    // the Deployments: a Secret volume per CA, mounted read-only, and the path in the env (never the content)
    for (const component of ['gateway', 'processor']) {
      const d = await getJson('deployment', sec.ns, `${withCa}-${component}`);
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      for (const [target, key] of [
        ['redis', 'redis.pem'],
        ['kafka', 'kafka.pem'],
      ] as const) {
        const vol = pod.volumes.find((v: Json) => v.name === `${target}-tls-ca`);
        expect(vol, `${component} ${target} volume`).toMatchObject({
          secret: { secretName: 'sale-cas', items: [{ key, path: 'ca.crt' }] },
        });
        expect(vol.secret.defaultMode & 0o022).toBe(0); // not writable or world-readable
        const mount = c.volumeMounts.find((m: Json) => m.name === `${target}-tls-ca`);
        expect(mount).toMatchObject({ mountPath: `/etc/flashsale/tls/${target}`, readOnly: true });
        const env = c.env.find((e: Json) => e.name === `${target.toUpperCase()}_TLS_CA_FILE`);
        expect(env).toEqual({
          name: `${target.toUpperCase()}_TLS_CA_FILE`,
          value: `/etc/flashsale/tls/${target}/ca.crt`,
        });
      }
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      // the pods the ReplicaSet created carry the same read-only mounts
      const pods = await eventually(`${component} pods of ${withCa}`, async () => {
        const selector = `${LABELS.sale}=${withCa},${LABELS.component}=${component}`;
        const list = JSON.parse(await kubectl(['-n', sec.ns, 'get', 'pods', '-l', selector, '-o', 'json'])).items;
        return list.length > 0 ? list : null;
      });
      for (const p of pods) {
        const mounts = p.spec.containers[0].volumeMounts.filter((m: Json) => m.name.endsWith('-tls-ca'));
        expect(mounts.map((m: Json) => [m.mountPath, m.readOnly]).sort()).toEqual([
          ['/etc/flashsale/tls/kafka', true],
          ['/etc/flashsale/tls/redis', true],
        ]);
      }
    }
    // skip-verify travels as a flag in the ConfigMap; no CA volume without a caSecretRef
    const cm = await getJson('configmap', sec.ns, `${insecure}-config`);
    expect(cm.data).toMatchObject({ REDIS_TLS_INSECURE_SKIP_VERIFY: 'true', KAFKA_TLS_INSECURE_SKIP_VERIFY: 'true' });
    const insecureGw = await getJson('deployment', sec.ns, `${insecure}-gateway`);
    expect(insecureGw.spec.template.spec.volumes.map((v: Json) => v.name)).toEqual(['tmp']);

    const everything = await sec.exposed();
    expect(sec.op.output).toMatch(/"level"/); // the log was captured
    expect(everything).toContain('sale-cas');
    for (const secretValue of [
      requireService('redisTls').password,
      requireService('kafkaSecure').password,
      ...caFragments(),
    ]) {
      expect(everything.includes(secretValue), 'a secret value or CA content leaked').toBe(false);
    }
  }, 120_000);
});
