/**
 * Past endsAt + scaleDownGrace a sale scales to zero only when its processors have nothing left: no consumer lag on
 * the orders topic and no unit held. Real API server, Redis and Kafka: orders waiting in the topic, then a hold in
 * Redis, keep the processor autoscaled at its floor (phase Ended, ScalingReady says what it waits for); once both are
 * gone the sale scales to zero. The operator exports the lag it reads, `flashsale_consumer_lag{namespace,sale}`.
 */
import { randomUUID } from 'node:crypto';
import {
  groupLag,
  OPERATOR_METRICS,
  processorGroupId,
  release,
  reserve,
  setGroupOffsets,
  topics,
} from '@flashsale/common';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyEndedSale,
  condition,
  getJson,
  type Json,
  kafkaAdmin,
  redisClient,
  sendUnconsumedOrders,
  uniq,
  useTestOperator,
} from './support.ts';

// useTestOperator deletes the sales while the operator runs (their finalizer needs it), then stops it
const env = useTestOperator('op-drain');
const r = redisClient();
let admin: Admin;

beforeAll(async () => {
  admin = await kafkaAdmin();
});
afterAll(async () => {
  await admin?.disconnect();
  r.disconnect();
});

async function exportedLag(sale: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${env.op.port}/metrics`)).text();
  const re = new RegExp(`^${OPERATOR_METRICS.saleConsumerLag}\\{[^}]*sale="${sale}"[^}]*\\} (\\d+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

const scaling = async (name: string) => condition(await getJson('flashsale', env.ns, name), 'ScalingReady');

describe('scale-down after endsAt + grace waits for the backlog', () => {
  it('orders in the topic, then a held unit, keep the processor; scaled to zero once both are gone', async () => {
    const name = uniq('drain');
    const t = topics(name);
    await sendUnconsumedOrders(admin, name, 5);
    // over by the clock 5 minutes ago; no read-only gateway after the drain (status-retention.test.ts has it)
    await applyEndedSale(name, env.ns, '15m');
    const lagged = await eventually<Json>(
      'draining, waiting for the consumer lag',
      async () => {
        const c = await scaling(name);
        return c && /waiting for consumer lag 5\b/.test(c.message) ? c : null;
      },
      90_000,
    );
    expect(lagged.message).toMatch(/draining, past endsAt \+ grace/);
    const fs = await getJson('flashsale', env.ns, name);
    expect(fs.status.phase).toBe('Ended');
    const hpa = await eventually<Json>('the processor HPA', () =>
      getJson('horizontalpodautoscaler', env.ns, `${name}-processor`),
    );
    expect(hpa.spec.minReplicas).toBe(1);
    expect((await getJson('deployment', env.ns, `${name}-processor`)).spec.replicas).not.toBe(0);
    expect(await exportedLag(name)).toBe(5);

    // a unit held (an order reserved, its payment still open), then the orders consumed: still draining
    const orderId = randomUUID();
    const held = await reserve(
      r,
      name,
      { orderId, itemId: 'console-x', userId: 'u-1', quantity: 1, correlationId: 'c', requestId: 'q' },
      3_600_000,
    );
    expect(held.status).toBe('RESERVED');
    const ends = await groupLag(admin, processorGroupId(name), t.orders);
    await setGroupOffsets(
      admin,
      processorGroupId(name),
      t.orders,
      ends.map((p) => ({ partition: p.partition, offset: p.high })),
    );
    await eventually(
      'draining, waiting for the held unit only',
      async () => {
        const m = (await scaling(name))?.message ?? '';
        if (!m.includes('waiting for 1 unit(s) held')) throw new Error(m);
        return true;
      },
      90_000,
    );
    expect(await exportedLag(name)).toBe(0);
    expect(await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`)).not.toBeNull();

    // the hold settles: nothing left, the sale scales to zero
    expect((await release(r, name, 'console-x', orderId, 'EXPIRED', 'hold_expired')).outcome).toBe('released');
    const over = await eventually(
      'scaled to zero (SaleOver)',
      async () => {
        const c = await scaling(name);
        return c?.reason === 'SaleOver' ? c : null;
      },
      90_000,
    );
    expect(over.status).toBe('True');
    // level-based: the HPA controller may scale the processor once more before the HPA is gone; the next reconcile
    // puts it back to 0
    await eventually(
      'processor and gateway at 0 replicas, no processor HPA',
      async () =>
        (await getJson('deployment', env.ns, `${name}-processor`)).spec.replicas === 0 &&
        (await getJson('deployment', env.ns, `${name}-gateway`)).spec.replicas === 0 &&
        (await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`)) === null,
      60_000,
    );
  }, 360_000);
});
