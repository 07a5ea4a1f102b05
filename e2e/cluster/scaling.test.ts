/**
 * Autoscaling on the real node, with KEDA (the default provider where it runs), metrics-server and the Prometheus the
 * Prometheus Operator manages:
 * - the processor scales on the consumer lag counted once: the operator's `flashsale_consumer_lag`, read from the
 *   brokers. Backlogs are made to stay put (payments that hang, so no batch commits; sent once every processor pod is
 *   in the group, so no rebalance replays them) while the test compares what the scaler sees with the group's lag
 *   read from the broker, with 1 and with 4 processor pods; a backlog grows the processor to the partition count,
 *   and once payments are fixed it drains and the processor shrinks back to one;
 * - the gateway grows on requests per second (or CPU) under a stream of orders, and shrinks when it stops;
 * - pre-scaling raises the floors at startsAt - lead.
 * Replica counts are sampled into timelines, printed at the end. (The drain after endsAt: operator/test/drain.test.ts
 * and e2e/cluster/sale.test.ts.)
 */
import { gatewayRequestRateQuery } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { placeAll, steadyStream } from '../support/load.ts';
import { eventually } from '../support/services.ts';
import { sleep } from '../support/wait.ts';
import {
  brokerLag,
  monitoredSale,
  processorReplicas,
  promNumber,
  replicasOf,
  scalerSees,
  timeline,
  useMetricsCluster,
  waitScraped,
} from './metrics-support.ts';
import {
  applyAndWaitReady,
  auditCluster,
  condition,
  getSale,
  type Json,
  podsOf,
  type SaleManifest,
} from './support.ts';

const { c, metrics } = useMetricsCluster('rc-scale');
const PARTITIONS = 4;
const ORDERS = 300;
const TARGET_LAG = 50;

/** A sale whose payments hang for 10 minutes (no batch commits): a backlog that stays put while the test reads it. */
function stuckSale(sale: string, processors: { min: number; max: number }): SaleManifest {
  return monitoredSale(metrics, sale, (m) => {
    m.spec.items = [{ id: 'item-a', quantity: 5000, perUserLimit: 1 }];
    m.spec.topics.partitions = PARTITIONS;
    m.spec.autoscaling = {
      enabled: true,
      provider: 'auto',
      gateway: { minReplicas: 1, maxReplicas: 1 },
      processor: { minReplicas: processors.min, maxReplicas: processors.max, targetLagPerReplica: TARGET_LAG },
      scaleDown: { stabilizationWindow: '15s', podsPerMinute: 6 },
    };
    m.spec.processor.holdTtl = '20m';
    m.spec.processor.payment = { failureRate: 0, minLatency: '10m', maxLatency: '10m' };
    m.spec.processor.env = [{ name: 'PAYMENT_TIMEOUT', value: '15m' }];
  });
}

/** Applies the stuck sale; waits until every processor pod is Ready (in the group: no rebalance under hung batches). */
async function prepareBacklog(sale: string, processors: number) {
  const ready = await applyAndWaitReady(c, stuckSale(sale, { min: processors, max: processors }));
  // auto chose KEDA: it runs here (ScaledObject API and external.metrics.k8s.io served)
  expect(condition(ready, 'ScalingReady')).toMatchObject({ status: 'True', reason: 'KedaScaledObjects' });
  await eventually(
    `${processors} processor pod(s) ready (in the group)`,
    async () => (await processorReplicas(c, sale)).ready === processors,
    240_000,
  );
  await waitScraped(metrics, c, sale);
}

/**
 * Places ORDERS orders as a patient client (a late answer or a 503 retried with the same key: a busy node may answer
 * late, and what is tested here is the lag, not the gateway under pressure) and reads the backlog from the broker.
 */
async function sendBacklog(sale: string) {
  const log = await placeAll(`http://${await c.serviceAddr(`${sale}-gateway`)}`, {
    items: ['item-a'],
    total: ORDERS,
    concurrency: 8,
  });
  const attempts = log.byStatus();
  console.log(`[scaling] ${sale}: ${ORDERS} orders placed; every attempt by status: ${JSON.stringify(attempts)}`);
  expect(log.accepted.size).toBe(ORDERS);
  const gw = (await podsOf(c, sale, 'gateway'))[0]!.metadata.name as string;
  const backlog = await brokerLag(c, sale, gw);
  // more than ORDERS only when a retried order's first send timed out yet was written (the processor drops the copy)
  expect(backlog).toBeGreaterThanOrEqual(ORDERS);
  expect(backlog - ORDERS).toBeLessThanOrEqual(log.count((a) => a.status === 0 || a.status === 503));
  return { log, backlog, gw };
}

describe('processor autoscaling on the real node (KEDA, Prometheus Operator)', () => {
  it("the scaler sees the group's true lag with 1 and with 4 processor pods (not one copy per pod)", async () => {
    const sales = [
      { sale: 'lag-one', pods: 1 },
      { sale: 'lag-four', pods: PARTITIONS },
    ];
    await Promise.all(sales.map(({ sale, pods }) => prepareBacklog(sale, pods)));
    // placed one sale after the other: two gateways driven at once on a busy node answer late
    const backlogs = new Map<string, { backlog: number; gw: string }>();
    for (const { sale } of sales) backlogs.set(sale, await sendBacklog(sale));
    for (const { sale, pods } of sales) {
      const { backlog, gw } = backlogs.get(sale)!;
      const sel = `namespace="${c.ns}",sale="${sale}"`;
      await eventually(
        `${sale}: ${pods} processor pod(s) reporting the whole backlog to Prometheus`,
        async () =>
          (await promNumber(metrics, `count(count by (pod) (processor_consumer_lag{${sel}}))`)) === pods &&
          (await promNumber(metrics, `sum(processor_consumer_lag{${sel}})`)) === pods * backlog,
        180_000,
      );
      await eventually(
        `${sale}: the scaler to see the backlog`,
        async () => {
          const seen = await scalerSees(c, sale);
          if (seen !== backlog) throw new Error(`the scaler sees ${seen}`);
          return true;
        },
        120_000,
      );
      // every pod reports the whole group's lag: a sum over pods (the old query) reads `pods` times the backlog; the
      // scaler, the alert's query and the broker agree on the backlog itself
      expect(await promNumber(metrics, `sum(processor_consumer_lag{${sel}})`)).toBe(pods * backlog);
      expect(await promNumber(metrics, `max(flashsale_consumer_lag{${sel}})`)).toBe(backlog);
      expect(await brokerLag(c, sale, gw)).toBe(backlog);
      console.log(
        `[scaling] ${sale}: ${pods} processor pod(s); the pods report ${pods * backlog} in sum, the scaler ${backlog}`,
      );
    }
  }, 900_000);

  it('a backlog grows the processor to the partition count and never beyond; it shrinks once the backlog is gone', async () => {
    const sale = 'scale-sale';
    await prepareBacklog(sale, 1);
    const { log, gw } = await sendBacklog(sale);
    const accepted = log.accepted;
    const tl = timeline(c, metrics, sale);
    try {
      expect(await processorReplicas(c, sale)).toMatchObject({ desired: 1 });
      // the maximum raised past the partitions: KEDA scales towards ORDERS / TARGET_LAG = 6, capped at 4 partitions
      tl.mark('maxReplicas 1 -> 6');
      await c.kubectl([
        'patch',
        'flashsale',
        sale,
        '--type',
        'merge',
        '-p',
        JSON.stringify({ spec: { autoscaling: { processor: { maxReplicas: 6 } } } }),
      ]);
      await eventually(
        `the processor Deployment at ${PARTITIONS} replicas`,
        async () => (await processorReplicas(c, sale)).desired === PARTITIONS,
        180_000,
      );
      const so = JSON.parse(await c.kubectl(['get', 'scaledobject', `${sale}-processor`, '-o', 'json'])) as Json;
      expect(so.spec.maxReplicaCount).toBe(PARTITIONS);
      await sleep(20_000); // two more polls of KEDA and of the HPA: still at the cap
      expect((await processorReplicas(c, sale)).desired).toBe(PARTITIONS);

      // payments fixed (the operator rolls the processors): the backlog drains, the processor shrinks to one
      tl.mark('payments fixed');
      await c.kubectl([
        'patch',
        'flashsale',
        sale,
        '--type',
        'merge',
        '-p',
        JSON.stringify({
          spec: { processor: { env: [], payment: { failureRate: 0, minLatency: '5ms', maxLatency: '20ms' } } },
        }),
      ]);
      await eventually('the backlog to drain', async () => (await brokerLag(c, sale, gw)) === 0, 240_000);
      await eventually(
        'the processor back at one replica',
        async () => tl.points.at(-1)?.desired === 1 && tl.points.at(-1)?.lag === 0,
        180_000,
      );
    } finally {
      const points = await tl.stop();
      console.log(`[scaling timeline] ${ORDERS} orders, ${PARTITIONS} partitions: ${tl.summary()}`);
      // never beyond the partitions, whatever the lag asked for
      expect(Math.max(...points.map((p) => p.desired))).toBeLessThanOrEqual(PARTITIONS);
    }
    expect(tl.points.some((p) => p.desired === PARTITIONS)).toBe(true);
    const fs = await getSale(c, sale);
    expect(condition(fs, 'ScalingReady')?.reason).toBe('KedaScaledObjects');
    // every accepted order final, none oversold, books balanced
    const audit = await auditCluster(c, sale, accepted, undefined, 60_000);
    expect({ lost: audit.lost, oversold: audit.oversold, drift: audit.drift, confirmed: audit.confirmed }).toEqual({
      lost: 0,
      oversold: 0,
      drift: 0,
      confirmed: ORDERS,
    });
  }, 1_200_000);
});

describe('gateway autoscaling and pre-scaling on the real node', () => {
  it('orders per second above the target grow the gateway (at most its maximum), and it shrinks once they stop', async () => {
    const sale = 'gw-scale-sale';
    const TARGET_RPS = 5;
    const manifest = monitoredSale(metrics, sale, (m) => {
      m.spec.items = [{ id: 'item-g', quantity: 100_000, perUserLimit: 1 }];
      // the crowd of one machine comes from one address: the per-IP bucket would refuse most of it
      m.spec.gateway.env = [{ name: 'RATE_LIMIT_IP_MAX_REQUESTS', value: '1000000' }];
      // an idle gateway far below its CPU target (with monitoredSale's 25m, its idle work alone kept it at 3 pods):
      // the requests per second decide
      m.spec.gateway.resources.requests.cpu = '150m';
      m.spec.autoscaling = {
        enabled: true,
        provider: 'auto',
        gateway: { minReplicas: 1, maxReplicas: 3, targetRequestsPerSecond: TARGET_RPS, targetCPUUtilization: 100 },
        processor: { minReplicas: 1, maxReplicas: 1, targetLagPerReplica: 1000 },
        scaleDown: { stabilizationWindow: '15s', podsPerMinute: 6 },
      };
    });
    const ready = await applyAndWaitReady(c, manifest);
    expect(condition(ready, 'ScalingReady')).toMatchObject({ status: 'True', reason: 'KedaScaledObjects' });
    await waitScraped(metrics, c, sale);
    const tl = timeline(c, metrics, sale, 3000, 'gateway');
    // the query the gateway's ScaledObject uses
    const rate = gatewayRequestRateQuery(`namespace="${c.ns}",sale="${sale}"`);
    let grownAt: number | undefined;
    const t0 = Date.now();
    try {
      expect((await replicasOf(c, sale, 'gateway')).desired).toBe(1);
      tl.mark('orders streaming');
      const stream = steadyStream(`http://${await c.serviceAddr(`${sale}-gateway`)}`, {
        items: ['item-g'],
        clients: 4,
        paceMs: 40,
      });
      try {
        await eventually(
          'the gateway grown past one replica on requests per second',
          async () => (await replicasOf(c, sale, 'gateway')).desired >= 2,
          240_000,
        );
        grownAt = Math.round((Date.now() - t0) / 1000);
        // what KEDA's HPA read: the request rate Prometheus has for the sale, above the per-replica target
        expect(await promNumber(metrics, rate)).toBeGreaterThan(TARGET_RPS);
      } finally {
        tl.mark('orders stopped');
        await stream.stop();
      }
      expect(stream.log.count((a) => a.status === 202)).toBeGreaterThan(0);
      expect(stream.log.count((a) => a.status >= 500)).toBe(0);
      await eventually(
        'the gateway back at one replica once the orders stopped (the 1-minute rate window, then 15 s of stability)',
        async () => (await replicasOf(c, sale, 'gateway')).desired === 1,
        300_000,
      );
    } finally {
      const points = await tl.stop();
      console.log(`[scaling timeline] gateway on ${TARGET_RPS} requests/s per replica: ${tl.summary()}`);
      expect(Math.max(...points.map((p) => p.desired))).toBeLessThanOrEqual(3);
    }
    console.log(`[scaling] gateway grown ${grownAt} s after the orders began`);
  }, 900_000);

  it('pre-scaling: the schedule raises the floors at startsAt - lead, before the sale opens', async () => {
    const sale = 'prescale-sale';
    const LEAD_S = 90;
    // cold first: the warm stage begins 150 s after the apply (under make test's load, load average 65, the operator
    // took about a minute to create the new sale's autoscalers: the cold floors were seen just after a 60 s window)
    const startsAt = Date.now() + (LEAD_S + 150) * 1000;
    const warmAt = startsAt - LEAD_S * 1000;
    const manifest: SaleManifest = monitoredSale(metrics, sale, (m) => {
      m.spec.startsAt = new Date(startsAt).toISOString();
      m.spec.endsAt = new Date(startsAt + 3_600_000).toISOString();
      m.spec.autoscaling = {
        enabled: true,
        provider: 'auto',
        gateway: { minReplicas: 1, maxReplicas: 3 },
        processor: { minReplicas: 1, maxReplicas: 4, targetLagPerReplica: 1000 },
        preScale: { lead: `${LEAD_S}s`, gatewayReplicas: 2, processorReplicas: 3 },
      };
    });
    await c.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
    // the floors are the autoscalers' minimums; above them the autoscalers may add pods (a gateway starting up is
    // busy enough to grow on CPU), so the Deployments are held to at least the floors, not to exactly them
    const floors = async () => {
      const min = async (part: 'gateway' | 'processor') =>
        (JSON.parse(await c.kubectl(['get', 'scaledobject', `${sale}-${part}`, '-o', 'json'])) as Json).spec
          .minReplicaCount as number;
      return { g: await min('gateway'), p: await min('processor') };
    };
    const both = async () => ({ g: await replicasOf(c, sale, 'gateway'), p: await replicasOf(c, sale, 'processor') });
    const cold = await eventually(
      'the cold floors (one gateway, one processor)',
      async () => {
        const f = await floors().catch(() => undefined);
        return f && f.g === 1 && f.p === 1 ? f : false;
      },
      120_000,
    );
    expect(Date.now()).toBeLessThan(warmAt); // seen cold before the warm stage began
    expect(cold).toEqual({ g: 1, p: 1 });
    const warm = await eventually(
      'the warm floors (2 gateways, 3 processors)',
      async () => {
        const f = await floors();
        return f.g === 2 && f.p === 3 ? f : false;
      },
      warmAt - Date.now() + 120_000,
    );
    const seen = Date.now();
    // never before startsAt - lead (the sample above came after it), and before the sale opened
    expect(seen).toBeGreaterThanOrEqual(warmAt);
    expect(warm).toEqual({ g: 2, p: 3 });
    await eventually(
      'the Deployments at least at the warm floors',
      async () => {
        const r = await both();
        return r.g.desired >= 2 && r.p.desired >= 3;
      },
      60_000,
    );
    const fs = await getSale(c, sale);
    console.log(
      `[scaling] pre-scaling: floors raised ${((seen - warmAt) / 1000).toFixed(1)} s after startsAt - lead ` +
        `(${((startsAt - seen) / 1000).toFixed(0)} s before startsAt); phase ${fs.status?.phase}`,
    );
    await eventually(
      'the warm pods ready before the sale opens',
      async () => {
        const r = await both();
        return r.g.ready >= 2 && r.p.ready >= 3;
      },
      Math.max(30_000, startsAt - Date.now() + 60_000),
    );
  }, 600_000);
});
