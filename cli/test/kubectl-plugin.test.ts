/** `kubectl flashsale` against the real local API server (kwok control plane) with the FlashSale CRD. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ABORT_ANNOTATION, ensureTopics, PROMOTE_ANNOTATION } from '@flashsale/common';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService } from '../../e2e/support/services.ts';
import { KWOK_NAMESPACE_ANNOTATIONS } from '../../tools/harness/src/index.ts';
import { KUBECTL_FLASHSALE, ROOT, runCli } from './support.ts';

const run = promisify(execFile);
const { Kafka, logLevel } = kafkajs;
const ns = `t-${randomUUID().slice(0, 8)}`;
const name = `s-${randomUUID().slice(0, 6)}`;

describe('kubectl flashsale', () => {
  let kubectl: (...args: string[]) => Promise<string>;
  let env: Record<string, string>;
  let brokers: string[];

  beforeAll(async () => {
    const kube = requireService('kube');
    brokers = requireService('kafka').brokers;
    env = { KUBECONFIG: kube.kubeconfig };
    kubectl = async (...args: string[]) =>
      (await run(kube.kubectl, ['--kubeconfig', kube.kubeconfig, ...args], { cwd: ROOT })).stdout;
    await kubectl('get', 'crd', 'flashsales.flashsale.dev').catch(() =>
      kubectl('apply', '--server-side', '-f', join(ROOT, 'crds/flashsale.dev_flashsales.yaml')),
    );
    await kubectl('wait', '--for=condition=Established', 'crd/flashsales.flashsale.dev', '--timeout=30s');
    await kubectl('create', 'namespace', ns);
    await kubectl(
      'annotate',
      'namespace',
      ns,
      ...Object.entries(KWOK_NAMESPACE_ANNOTATIONS).map(([key, value]) => `${key}=${value}`),
    );
    const dir = await mkdtemp(join(tmpdir(), 'fs-kubectl-'));
    const file = join(dir, 'sale.yaml');
    await writeFile(
      file,
      `apiVersion: flashsale.dev/v1alpha1
kind: FlashSale
metadata: { name: ${name}, namespace: ${ns} }
spec:
  startsAt: "2026-11-28T08:00:00Z"
  endsAt: "2026-11-28T10:00:00Z"
  items: [{ id: a, quantity: 10 }]
  kafka: { brokers: "kafka.invalid:9092" }
`,
    );
    await kubectl('apply', '-f', file);
  }, 90_000);

  afterAll(async () => {
    await kubectl?.('delete', 'namespace', ns, '--wait=false').catch(() => undefined);
  });

  it('status reads the FlashSale through the API (text, JSON, list)', async () => {
    const text = await runCli(KUBECTL_FLASHSALE, ['status', name, '-n', ns], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`FlashSale ${ns}/${name}`);
    const json = await runCli(KUBECTL_FLASHSALE, ['-n', ns, 'status', name, '-o', 'json'], { env });
    // the API server's defaults (perUserLimit, stockBuckets) are in the stored object
    expect(JSON.parse(json.stdout).spec.items).toEqual([{ id: 'a', quantity: 10, perUserLimit: 0, stockBuckets: 1 }]);
    const list = await runCli(KUBECTL_FLASHSALE, ['status', '-n', ns], { env });
    expect(list.stdout).toContain(name);
  });

  it('promote and abort set their annotations', async () => {
    for (const [cmd, annotation] of [
      ['promote', PROMOTE_ANNOTATION],
      ['abort', ABORT_ANNOTATION],
    ] as const) {
      const r = await runCli(KUBECTL_FLASHSALE, [cmd, name, '-n', ns, '-o', 'json'], { env });
      expect(r.code).toBe(0);
      const value = JSON.parse(r.stdout).value as string;
      expect(Date.parse(value)).toBeGreaterThan(Date.now() - 60_000);
      const jsonPath = `{.metadata.annotations.${annotation.replaceAll('.', '\\.')}}`;
      expect(await kubectl('get', 'flashsale', name, '-n', ns, '-o', `jsonpath=${jsonPath}`)).toBe(value);
    }
  });

  it('dlq list uses the FlashSale name as the sale, with --kafka overriding spec.kafka.brokers', async () => {
    const admin = new Kafka({ clientId: 't', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await ensureTopics(admin, { sale: name, partitions: 1, replication: 1 });
    } finally {
      await admin.disconnect();
    }
    const r = await runCli(KUBECTL_FLASHSALE, ['dlq', 'list', name, '-n', ns, '--kafka', brokers.join(','), '--json'], {
      env,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sale: name, total: 0 });
  });

  it('exits 1 for a FlashSale that does not exist, naming it', async () => {
    const r = await runCli(KUBECTL_FLASHSALE, ['status', 'nope', '-n', ns], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope.*not found/);
  });
});
