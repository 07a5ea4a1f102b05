/**
 * The end of a sale on the real API server (kwok pods): past endsAt + scaleDownGrace the processors stay while the
 * orders topic has lag; once drained, the sale keeps one read-only gateway (GATEWAY_MODE=read-only, no autoscaler,
 * processors at 0) so buyers still read their orders, until endsAt + statusRetention; then everything is at 0. The
 * last step comes from the clock alone (the reconcile is requeued for the boundary): nothing is changed to get it.
 */
import { groupLag, processorGroupId, setGroupOffsets, topics } from '@flashsale/common';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyEndedSale,
  applyManifest,
  condition,
  exampleSale,
  getJson,
  isoSeconds,
  type Json,
  kafkaAdmin,
  sendUnconsumedOrders,
  uniq,
  useTestOperator,
} from './support.ts';

const env = useTestOperator('op-retain');
let admin: Admin;

beforeAll(async () => {
  admin = await kafkaAdmin();
});
afterAll(async () => {
  await admin?.disconnect();
});

type EnvVar = { name: string; value?: string };
const gatewayMode = (d: Json) =>
  (d?.spec?.template?.spec?.containers?.[0]?.env as EnvVar[] | undefined)?.find((e) => e.name === 'GATEWAY_MODE')
    ?.value;
const scaling = async (name: string) => condition(await getJson('flashsale', env.ns, name), 'ScalingReady');

/** The status-only stage as the API server holds it: one read-only gateway, no processor, no autoscaler. */
async function waitStatusOnly(name: string, gateway = `${name}-gateway`, ready = true): Promise<Json> {
  return eventually<Json>(
    `${name}: one read-only gateway, processors at 0, no HPA`,
    async () => {
      const fs = await getJson('flashsale', env.ns, name);
      const c = condition(fs, 'ScalingReady');
      // Ready: the read-only gateway's pod is up (a rolling update of the gateway: new env)
      if (c?.reason !== 'StatusOnly' || (ready && condition(fs, 'Ready')?.status !== 'True')) return null;
      const gw = await getJson('deployment', env.ns, gateway);
      const proc = await getJson('deployment', env.ns, `${name}-processor`);
      const ok =
        gw?.spec.replicas === 1 &&
        gatewayMode(gw) === 'read-only' &&
        proc?.spec.replicas === 0 &&
        (await getJson('horizontalpodautoscaler', env.ns, `${name}-gateway`)) === null &&
        (await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`)) === null;
      return ok ? c : null;
    },
    60_000,
  );
}

describe('the end of a sale: order status after the processors stop', () => {
  it('lag keeps the processors past the grace; drained: one read-only gateway until endsAt + statusRetention', async () => {
    const name = uniq('retain');
    const t = topics(name);
    await sendUnconsumedOrders(admin, name, 3);
    // past the grace 5 minutes ago, well within the retention
    const now = await applyEndedSale(name, env.ns, '2h');
    // 3 orders no processor consumed (kwok pods consume nothing): the processors stay, the gateway takes no orders
    await eventually(
      'draining past the grace, waiting for the consumer lag',
      async () => /waiting for consumer lag 3\b/.test((await scaling(name))?.message ?? ''),
      60_000,
    );
    expect((await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`)).spec.minReplicas).toBe(1);
    expect(gatewayMode(await getJson('deployment', env.ns, `${name}-gateway`))).toBeUndefined();

    // the processors catch up: the sale drops to its read-only gateway
    const ends = await groupLag(admin, processorGroupId(name), t.orders);
    await setGroupOffsets(
      admin,
      processorGroupId(name),
      t.orders,
      ends.map((p) => ({ partition: p.partition, offset: p.high })),
    );
    const c = await waitStatusOnly(name);
    const until = new Date(now - 20 * 60_000 + 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, '.000Z');
    expect(c.message).toContain(`read-only gateway serves order status until ${until}`);
    const fs = await getJson('flashsale', env.ns, name);
    expect(fs.status.phase).toBe('Ended');
    expect(condition(fs, 'Ready')).toMatchObject({ status: 'True', message: expect.stringContaining(until) });
    expect(condition(fs, 'WorkloadsAvailable')).toMatchObject({ status: 'True', reason: 'ScaledDown' });
  }, 180_000);

  it('at endsAt + statusRetention the read-only gateway goes too, from the clock alone', async () => {
    const name = uniq('retend');
    const now = Date.now();
    const endsAt = now - 20 * 60_000;
    // the status-only stage ends ~40 s after the apply (statusRetention 20m 40s after endsAt)
    const untilMs = endsAt + 1240_000;
    await applyManifest(
      exampleSale(name, env.ns, (m) => {
        m.spec.startsAt = isoSeconds(now - 2 * 3_600_000);
        m.spec.endsAt = isoSeconds(endsAt);
        m.spec.statusRetention = '1240s';
      }),
    );
    await waitStatusOnly(name, `${name}-gateway`, false);
    expect(Date.now()).toBeLessThan(untilMs);
    const over = await eventually(
      'scaled to zero at endsAt + statusRetention (SaleOver)',
      async () => {
        const c = await scaling(name);
        return c?.reason === 'SaleOver' ? c : null;
      },
      60_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(untilMs);
    expect(over.status).toBe('True');
    await eventually(
      'gateway and processor at 0 replicas',
      async () =>
        (await getJson('deployment', env.ns, `${name}-gateway`)).spec.replicas === 0 &&
        (await getJson('deployment', env.ns, `${name}-processor`)).spec.replicas === 0,
      30_000,
    );
  }, 120_000);

  it('blue-green: the active colour is the read-only gateway (one pod), the preview colour stays at 0', async () => {
    const name = uniq('retbg');
    const now = Date.now();
    await applyManifest(
      exampleSale(name, env.ns, (m) => {
        m.spec.startsAt = isoSeconds(now - 2 * 3_600_000);
        m.spec.endsAt = isoSeconds(now - 20 * 60_000);
        m.spec.upgradeStrategy = { type: 'BlueGreen' };
      }),
    );
    // default statusRetention (24h)
    await waitStatusOnly(name, `${name}-gateway-blue`);
    const green = await getJson('deployment', env.ns, `${name}-gateway-green`);
    expect(green?.spec.replicas ?? 0).toBe(0);
    const fs = await getJson('flashsale', env.ns, name);
    expect(fs.status.rollout.message).toMatch(/blue colour serves order status read-only/);
  }, 120_000);
});
