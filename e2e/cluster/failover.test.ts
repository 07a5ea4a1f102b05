/**
 * Pods lost during a live sale on the real node: the operator's leader deleted (the other replica takes the Lease and
 * goes on reconciling), a processor force-deleted mid-burst (its partitions move to the survivor, the Deployment
 * replaces it). Each ends with the shared audit: 0 oversold, every 202 final, 0 confirmed twice, 0 drift. Last, the
 * probes: Redis away for twice the liveness budget makes the sale's pods unready, never restarted.
 */
import { describe, expect, it } from 'vitest';
import { assertBooks } from '../support/audit.ts';
import { BurstLog, burst } from '../support/load.ts';
import { eventually } from '../support/services.ts';
import { sleep } from '../support/wait.ts';
import {
  applyAndWaitReady,
  auditCluster,
  getSale,
  type Json,
  podsOf,
  quickstartSale,
  type SaleManifest,
  useRealCluster,
  watchStatus,
} from './support.ts';

const c = useRealCluster('rc-fail');

/** Stock that outlasts the burst, and a per-IP bucket wide enough for one test client (every request has its IP). */
function burstSale(name: string, processors: number): SaleManifest {
  return quickstartSale(name, (m) => {
    m.spec.items = [
      { id: 'a', quantity: 2000, perUserLimit: 1 },
      { id: 'b', quantity: 2000, perUserLimit: 1 },
    ];
    m.spec.processor.replicas = processors;
    m.spec.gateway.env = [{ name: 'RATE_LIMIT_IP_MAX_REQUESTS', value: '1000000' }];
  });
}

async function leaseHolder(): Promise<string> {
  const lease = JSON.parse(await c.kubectl(['get', 'lease', `${c.release}-flash-sale-operator`, '-o', 'json']));
  return lease.spec.holderIdentity ?? '';
}

describe('pods lost mid-sale on the real node', () => {
  it('the leader operator pod deleted: the other replica takes over and reconciles, the books stay right', async () => {
    const sale = 'leader-loss';
    await applyAndWaitReady(c, burstSale(sale, 1));
    const operators = (
      JSON.parse(await c.kubectl(['get', 'pods', '-l', 'app.kubernetes.io/component=operator', '-o', 'json']))
        .items as Json[]
    ).map((p) => p.metadata.name as string);
    expect(operators).toHaveLength(2);
    const leader = await eventually('a Lease holder', async () => {
      const h = await leaseHolder();
      return operators.find((p) => h.startsWith(p));
    });
    const watch = await watchStatus(c, sale);
    const url = `http://${await c.serviceAddr(`${sale}-gateway`)}`;
    const log = new BurstLog();
    let deleted: Promise<string> | undefined;
    await burst(url, {
      items: ['a', 'b'],
      total: 600,
      concurrency: 4,
      paceMs: 40,
      log,
      onAnswer: (n) => {
        if (n === 200) deleted = c.kubectl(['delete', 'pod', leader, '--wait=false']);
      },
    });
    await deleted;
    // the other replica (or, if it starts first, the Deployment's replacement pod) takes the Lease over
    const next = await eventually(
      'another operator pod holds the Lease',
      async () => {
        const h = await leaseHolder();
        if (!h || h.startsWith(leader)) return false;
        const pods = JSON.parse(
          await c.kubectl(['get', 'pods', '-l', 'app.kubernetes.io/component=operator', '-o', 'json']),
        );
        return (pods.items as Json[]).find((p) => h.startsWith(p.metadata.name) && !p.metadata.deletionTimestamp);
      },
      120_000,
    );
    expect(next.metadata.name).not.toBe(leader);

    // the new leader reconciles: a restock shows up in status (and in Redis, through the seeding step)
    const m = burstSale(sale, 1);
    m.spec.items[0].quantity = 2100;
    await c.kubectl(['apply', '-f', '-'], JSON.stringify(m));
    await eventually(
      'the restock reconciled by the new leader',
      async () => (await getSale(c, sale)).status?.totalQuantity === 4100,
      120_000,
    );

    const figures = await auditCluster(c, sale, log.accepted, watch);
    watch.close();
    assertBooks(figures);
    expect(log.accepted.size).toBeGreaterThan(300);
    expect(log.count((a) => a.status >= 500 || a.status === 0)).toBe(0);
    expect(figures.initial).toBe(4100);
  }, 600_000);

  it('a processor pod force-deleted mid-burst: the survivor and the replacement settle every order exactly once', async () => {
    const sale = 'proc-loss';
    await applyAndWaitReady(c, burstSale(sale, 2));
    const before = (await podsOf(c, sale, 'processor')).map((p) => p.metadata.name as string);
    expect(before).toHaveLength(2);
    const watch = await watchStatus(c, sale);
    const url = `http://${await c.serviceAddr(`${sale}-gateway`)}`;
    const log = new BurstLog();
    let killed: Promise<string> | undefined;
    await burst(url, {
      items: ['a', 'b'],
      total: 800,
      concurrency: 4,
      paceMs: 30,
      log,
      onAnswer: (n) => {
        if (n === 250) killed = c.kubectl(['delete', 'pod', before[0]!, '--grace-period=0', '--force']);
      },
    });
    await killed;
    await eventually(
      'a replacement processor Ready',
      async () => {
        const pods = await podsOf(c, sale, 'processor');
        const ready = pods.filter(
          (p) => !p.metadata.deletionTimestamp && p.status.containerStatuses?.every((s: Json) => s.ready),
        );
        return ready.length === 2 && !ready.some((p) => p.metadata.name === before[0]);
      },
      180_000,
    );

    const figures = await auditCluster(c, sale, log.accepted, watch, 180_000);
    watch.close();
    assertBooks(figures);
    expect(log.accepted.size).toBeGreaterThan(400);
    expect(log.count((a) => a.status >= 500 || a.status === 0)).toBe(0);
    expect(figures.confirmTransitions).toBe(figures.statuses.CONFIRMED ?? 0);
  }, 600_000);
});

describe('probes on the real node (issue 18, point 2)', () => {
  // last in the file: the quick start's Redis keeps its data in an emptyDir, so this sale's stock goes with it
  it('Redis away longer than the liveness budget: gateway and processor pods turn unready, none restarts, all come back Ready', async () => {
    const sale = 'probe-sale';
    await applyAndWaitReady(c, burstSale(sale, 2));
    const pods = async () => [...(await podsOf(c, sale, 'gateway')), ...(await podsOf(c, sale, 'processor'))];
    const ready = (p: Json) =>
      (p.status?.conditions ?? []).some((x: Json) => x.type === 'Ready' && x.status === 'True') as boolean;
    const restarts = (p: Json) =>
      ((p.status?.containerStatuses ?? []) as Json[]).reduce((n, s) => n + (s.restartCount ?? 0), 0);
    const before = await eventually('3 gateway and processor pods Ready', async () => {
      const all = await pods();
      return all.length === 3 && all.every(ready) ? all : false;
    });
    const names = before.map((p) => p.metadata.name as string).sort();
    // the processor's liveness budget: as long as Redis must stay away to restart a pod that /livez tied to Redis
    const dep = JSON.parse(await c.kubectl(['get', 'deployment', `${sale}-processor`, '-o', 'json'])) as Json;
    const live = dep.spec.template.spec.containers[0].livenessProbe;
    const budgetMs = live.periodSeconds * live.failureThreshold * 1000;
    const redis = (
      await c.kubectl(['get', 'statefulset', '-l', 'flashsale.dev/quickstart=redis', '-o', 'name'])
    ).trim();
    expect(redis).not.toBe('');
    await c.kubectl(['scale', redis, '--replicas=0']);
    try {
      await eventually(
        'the Redis pod gone',
        async () =>
          (await c.kubectl(['get', 'pods', '-l', 'flashsale.dev/quickstart=redis', '-o', 'name'])).trim() === '',
        180_000,
      );
      const awayAt = Date.now();
      await eventually(
        'every gateway and processor pod unready',
        async () => (await pods()).every((p) => !ready(p)),
        120_000,
      );
      // twice the liveness budget with Redis away: a liveness probe that checked Redis would have restarted them
      await sleep(Math.max(0, awayAt + 2 * budgetMs - Date.now()));
      const during = await pods();
      expect(during.map((p) => p.metadata.name as string).sort()).toEqual(names);
      expect(during.map(restarts)).toEqual(during.map(() => 0));
      expect(during.some(ready)).toBe(false);
    } finally {
      await c.kubectl(['scale', redis, '--replicas=1']);
    }
    const after = await eventually(
      'every gateway and processor pod Ready again',
      async () => {
        const all = await pods();
        return all.length === 3 && all.every(ready) ? all : false;
      },
      240_000,
    );
    expect(after.map((p) => p.metadata.name as string).sort()).toEqual(names);
    expect(after.map(restarts)).toEqual(after.map(() => 0));
  }, 600_000);
});
