/**
 * Helpers of the operator's end-to-end tests: real API server (kwok), Redis and Kafka from the harness; kubectl for
 * what users do; the operator in-process (startOperator), confined to the test's own namespace and lease.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRedis, ensureTopics, type RedisClient, topics } from '@flashsale/common';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import kafkajs, { type Admin } from 'kafkajs';
import { afterAll, beforeAll, inject } from 'vitest';
import { parse, stringify } from 'yaml';
import { eventually } from '../../e2e/support/wait.ts';
import { kwokNamespace } from '../../tools/harness/src/index.ts';
import { loadConfig } from '../src/config.ts';
import { type OperatorHandle, startOperator } from '../src/operator.ts';

const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '../..');

export function services() {
  const s = inject('services');
  if (!s.kube) throw new Error('the Kubernetes control plane (services.kube) is missing: the harness did not start it');
  if (!s.redis) throw new Error('Redis (services.redis) is missing');
  if (!s.kafka) throw new Error('Kafka (services.kafka) is missing');
  return { kube: s.kube, redis: s.redis, kafka: s.kafka };
}

export async function kubectl(args: string[], input?: string): Promise<string> {
  const { kube } = services();
  const child = run(kube.kubectl, args, { env: { ...process.env, KUBECONFIG: kube.kubeconfig }, maxBuffer: 32 << 20 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

/** kubectl that may fail: returns {ok, out} with stderr on failure. */
export async function tryKubectl(args: string[], input?: string): Promise<{ ok: boolean; out: string }> {
  try {
    return { ok: true, out: await kubectl(args, input) };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, out: err.stderr || err.message };
  }
}

export async function installCrd(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/flashsales.flashsale.dev', '--timeout=30s']);
}

export const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function createNamespace(prefix = 'op'): Promise<string> {
  const ns = uniq(prefix);
  // the operator runs in-process: its sales' pods only need to pretend (kwok)
  await kubectl(['apply', '-f', '-'], JSON.stringify(kwokNamespace(ns)));
  return ns;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the API server, asserted on by the tests
export type Json = any;
export type Manifest = { metadata: Record<string, unknown>; spec: Json } & Record<string, Json>;

/** The example manifest, pointed at the harness's Redis and Kafka, live now (startsAt 1 min ago). */
export function exampleSale(name: string, namespace: string, mutate?: (m: Manifest) => void): Manifest {
  const { redis, kafka } = services();
  const m = parse(readFileSync(join(ROOT, 'examples/flashsale.yaml'), 'utf8')) as Manifest;
  m.metadata.name = name;
  m.metadata.namespace = namespace;
  m.spec.redis.addr = redis.addr;
  m.spec.kafka.brokers = kafka.brokers.join(',');
  m.spec.startsAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  m.spec.endsAt = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  m.spec.topics.partitions = 2;
  mutate?.(m);
  return m;
}

export const applyManifest = (m: Manifest) => kubectl(['apply', '-f', '-'], stringify(m));

const KINDS: Record<string, [string, string]> = {
  flashsale: ['flashsale.dev/v1alpha1', 'FlashSale'],
  deployment: ['apps/v1', 'Deployment'],
  configmap: ['v1', 'ConfigMap'],
  service: ['v1', 'Service'],
  lease: ['coordination.k8s.io/v1', 'Lease'],
  poddisruptionbudget: ['policy/v1', 'PodDisruptionBudget'],
  horizontalpodautoscaler: ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  prometheusrule: ['monitoring.coreos.com/v1', 'PrometheusRule'],
  servicemonitor: ['monitoring.coreos.com/v1', 'ServiceMonitor'],
  scaledobject: ['keda.sh/v1alpha1', 'ScaledObject'],
};

let objectApi: KubernetesObjectApi | undefined;

/** Read an object with managedFields (client-node, cheaper than a kubectl process per poll); null when absent. */
export async function getJson<T = Json>(kind: string, namespace: string, name: string): Promise<T | null> {
  const gvk = KINDS[kind];
  if (!gvk) throw new Error(`unknown kind ${kind}`);
  if (!objectApi) {
    const kc = new KubeConfig();
    kc.loadFromFile(services().kube.kubeconfig);
    objectApi = KubernetesObjectApi.makeApiClient(kc);
  }
  try {
    const o = await objectApi.read({ apiVersion: gvk[0], kind: gvk[1], metadata: { name, namespace } });
    return JSON.parse(JSON.stringify(o)) as T;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return null;
    throw e;
  }
}

/** The events of the object `name` in `ns` (kubectl, as a user reads them). */
export async function eventsOf(ns: string, name: string): Promise<{ type: string; reason: string; message: string }[]> {
  const out = await kubectl([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return JSON.parse(out).items;
}

/**
 * The events of `name` once they include every reason of `reasons` (a Warning one if `warning`): the operator posts
 * events without waiting for them (best effort, as client-go's recorder), so an event can land after the status that
 * reports the same thing. After the wait the caller asserts on what is there.
 */
export async function eventsWith(
  ns: string,
  name: string,
  reasons: string[],
  warning = false,
): Promise<{ type: string; reason: string; message: string }[]> {
  const has = (es: { type: string; reason: string }[]) =>
    reasons.every((r) => es.some((e) => e.reason === r && (!warning || e.type === 'Warning')));
  await eventually(`events ${reasons.join(', ')} of ${name}`, async () => has(await eventsOf(ns, name)), 15_000).catch(
    () => undefined, // the caller's assertion names what is missing
  );
  return eventsOf(ns, name);
}

export const condition = (fs: Json, type: string) =>
  (fs?.status?.conditions ?? []).find((c: { type: string }) => c.type === type) as
    | { status: string; reason: string; message: string }
    | undefined;

/** Wait for Ready=True on the current generation. */
export function waitReady(ns: string, name: string, timeoutMs = 40_000) {
  return eventually<Json>(
    `FlashSale ${ns}/${name} Ready=True`,
    async () => {
      const fs = await getJson('flashsale', ns, name);
      return fs && condition(fs, 'Ready')?.status === 'True' && fs.status?.observedGeneration === fs.metadata.generation
        ? fs
        : null;
    },
    timeoutMs,
  );
}

export interface TestOperatorOptions {
  namespace: string;
  leaseName?: string;
  identity?: string;
  env?: Record<string, string>;
}

export async function startTestOperator(o: TestOperatorOptions): Promise<OperatorHandle> {
  const { kube } = services();
  const cfg = loadConfig({
    KUBECONFIG: kube.kubeconfig,
    LOG_LEVEL: process.env.OPERATOR_TEST_LOG ?? 'silent',
    WATCH_NAMESPACE: o.namespace,
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    LEASE_NAMESPACE: o.namespace,
    LEASE_NAME: o.leaseName ?? 'flashsale-operator',
    LEASE_DURATION: '4s',
    RENEW_DEADLINE: '3s',
    RETRY_PERIOD: '500ms',
    STATUS_REFRESH: '2s',
    BACKOFF_BASE: '200ms',
    BACKOFF_MAX: '3s',
    RESYNC_PERIOD: '30s',
    DEPENDENCY_TIMEOUT: '1s',
    ...(o.identity ? { POD_NAME: o.identity } : {}),
    ...o.env,
  });
  return startOperator(cfg);
}

export function redisClient(): RedisClient {
  const { redis } = services();
  return createRedis({ mode: 'single', nodes: [{ host: redis.host, port: redis.port }] });
}

export async function kafkaAdmin(): Promise<Admin> {
  const { kafka } = services();
  const admin = new kafkajs.Kafka({
    clientId: 'operator-test',
    brokers: kafka.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  return admin;
}

/** `n` orders waiting on the sale's orders topic (2 partitions) that no processor consumes: kwok's pods consume nothing. */
export async function sendUnconsumedOrders(admin: Admin, sale: string, n: number): Promise<void> {
  await ensureTopics(admin, { sale, partitions: 2, replication: 1 });
  const producer = new kafkajs.Kafka({
    clientId: 'operator-test',
    brokers: services().kafka.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).producer();
  await producer.connect();
  try {
    await producer.send({
      topic: topics(sale).orders,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => ({ key: 'console-x', value: `order-${i}` })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** A time as the manifests write it (seconds, Z). */
export const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Apply a sale that ran from 2 h ago until 20 minutes ago: past the example's 15-minute grace by 5 minutes, so it
 * drains (or, drained, keeps its read-only gateway for `statusRetention`). Returns the `now` its times count from.
 */
export async function applyEndedSale(name: string, ns: string, statusRetention: string): Promise<number> {
  const now = Date.now();
  await applyManifest(
    exampleSale(name, ns, (m) => {
      m.spec.startsAt = isoSeconds(now - 2 * 3_600_000);
      m.spec.endsAt = isoSeconds(now - 20 * 60_000);
      m.spec.statusRetention = statusRetention;
    }),
  );
  return now;
}

export async function topicPartitions(admin: Admin, topic: string): Promise<number | undefined> {
  const names = await admin.listTopics();
  if (!names.includes(topic)) return undefined;
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  return md.topics[0]?.partitions.length;
}

/** kubectl delete a FlashSale and wait until it is gone (its finalizer done). */
export async function deleteFlashSale(ns: string, name: string, timeoutMs = 30_000): Promise<void> {
  await kubectl(['-n', ns, 'delete', 'flashsale', name, '--wait=false']);
  await eventually(
    `FlashSale ${ns}/${name} to be gone`,
    async () => (await getJson('flashsale', ns, name)) === null,
    timeoutMs,
  );
}

export async function deleteNamespace(ns: string): Promise<void> {
  await tryKubectl(['delete', 'namespace', ns, '--wait=false']);
}

const saleNames = async (ns: string) =>
  (await tryKubectl(['-n', ns, 'get', 'flashsales', '-o', 'name'])).out
    .split('\n')
    .filter((l) => l.startsWith('flashsale'));

/** Delete the FlashSales left in `ns` while their operator runs, so their finalizers clean Redis and Kafka up. */
async function deleteSales(ns: string, timeoutMs: number): Promise<void> {
  await tryKubectl(['-n', ns, 'delete', 'flashsales', '--all', '--wait=false']);
  await eventually('the sales to be finalized', async () => (await saleNames(ns)).length === 0, timeoutMs).catch(
    () => undefined, // one whose cleanup cannot finish (an unreachable Redis) is released below
  );
}

/** Remove the finalizers of the FlashSales left in `ns`, so deleting the namespace never wedges on one. */
async function releaseFinalizers(ns: string): Promise<void> {
  for (const n of await saleNames(ns)) {
    await tryKubectl(['-n', ns, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
}

export interface UseTestOperatorOptions {
  /** runs after the namespace exists and before the operator starts (e.g. installing another CRD it discovers) */
  before?: () => Promise<void>;
  /** false: no operator is started; the file starts its own (several replicas, a child process) */
  operator?: boolean;
  /** extra operator environment */
  env?: Record<string, string>;
}

export interface TestOperatorEnv {
  /** the test file's namespace (set once beforeAll ran) */
  readonly ns: string;
  /** the in-process operator confined to it */
  readonly op: OperatorHandle;
}

/**
 * A test file's namespace and operator: registers hooks that install the CRD, create a namespace named after `prefix`
 * (kwok pods, see createNamespace) and start an in-process operator confined to it; after the file, delete the sales
 * (the operator finalizes them), stop it, release any finalizer left behind and delete the namespace. Every operator
 * test file starts this way.
 */
export function useTestOperator(prefix: string, o: UseTestOperatorOptions = {}): TestOperatorEnv {
  let ns = '';
  let op: OperatorHandle | undefined;
  beforeAll(async () => {
    await installCrd();
    ns = await createNamespace(prefix);
    await o.before?.();
    if (o.operator !== false) op = await startTestOperator({ namespace: ns, ...(o.env ? { env: o.env } : {}) });
  });
  afterAll(async () => {
    if (ns && op) await deleteSales(ns, 20_000);
    await op?.stop();
    if (ns) {
      await releaseFinalizers(ns);
      await deleteNamespace(ns);
    }
  });
  return {
    get ns() {
      return ns;
    },
    get op() {
      if (!op) throw new Error(`useTestOperator('${prefix}'): no operator (started with operator: false, or not yet)`);
      return op;
    },
  };
}
