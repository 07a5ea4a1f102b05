/**
 * The sale's clock on the real control plane: long before the start the autoscalers keep one warm pod, within the
 * pre-scaling lead they raise their floor, after endsAt + grace the sale scales to zero (autoscalers removed, data
 * kept) and reports Ended. Also the operator's /metrics, /healthz and /readyz.
 */
import { auditItem, OPERATOR_METRICS } from '@flashsale/common';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { applyManifest, exampleSale, getJson, redisClient, uniq, useTestOperator, waitReady } from './support.ts';

const env = useTestOperator('op-time');
const r = redisClient();
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

afterAll(() => r.disconnect());

describe('the sale clock', () => {
  it('cold: one pod each; warm (within the lead): the HPA floors rise before startsAt', async () => {
    const cold = uniq('cold');
    const warm = uniq('warm');
    await applyManifest(
      exampleSale(cold, env.ns, (m) => {
        m.spec.startsAt = iso(Date.now() + 3 * 3_600_000);
        m.spec.endsAt = iso(Date.now() + 4 * 3_600_000);
      }),
    );
    await applyManifest(
      exampleSale(warm, env.ns, (m) => {
        m.spec.startsAt = iso(Date.now() + 5 * 60_000);
        m.spec.endsAt = iso(Date.now() + 3_600_000);
        m.spec.topics.partitions = 2;
      }),
    );
    const c = await waitReady(env.ns, cold);
    expect(c.status.phase).toBe('Scheduled');
    expect((await getJson('horizontalpodautoscaler', env.ns, `${cold}-gateway`)).spec.minReplicas).toBe(1);
    const w = await waitReady(env.ns, warm);
    expect(w.status.phase).toBe('Scheduled');
    // lead 15m in the example: floor = max(min 2, ceil(max 10 / 2)) = 5; processor floor = partitions (2)
    expect((await getJson('horizontalpodautoscaler', env.ns, `${warm}-gateway`)).spec.minReplicas).toBe(5);
    expect((await getJson('horizontalpodautoscaler', env.ns, `${warm}-processor`)).spec.minReplicas).toBe(2);
    // inventory is seeded ahead of the start
    expect((await auditItem(r, warm, 'console-x')).initial).toBe(500);
  });

  it('reports HPAs that cannot read their metrics (ScalingReady=False reason MetricsUnavailable)', async () => {
    const name = uniq('nomet');
    await applyManifest(exampleSale(name, env.ns));
    await eventually(
      'ScalingReady=False reason MetricsUnavailable (the test cluster has no metrics APIs)',
      async () => {
        const f = await getJson('flashsale', env.ns, name);
        const c = f?.status?.conditions?.find((x: { type: string }) => x.type === 'ScalingReady');
        return c?.reason === 'MetricsUnavailable' && /prometheus-adapter/.test(c.message);
      },
      50_000,
    );
  });

  it('over (after endsAt + grace): scaled to zero, autoscalers removed, data kept, phase Ended', async () => {
    const over = uniq('over');
    await applyManifest(
      exampleSale(over, env.ns, (m) => {
        m.spec.startsAt = iso(Date.now() - 2 * 3_600_000);
        m.spec.endsAt = iso(Date.now() - 3_600_000);
        m.spec.statusRetention = '30m'; // past the read-only gateway's time too (status-retention.test.ts)
      }),
    );
    const fs = await waitReady(env.ns, over);
    expect(fs.status.phase).toBe('Ended');
    const gw = await getJson('deployment', env.ns, `${over}-gateway`);
    expect(gw.spec.replicas).toBe(0);
    expect(await getJson('horizontalpodautoscaler', env.ns, `${over}-gateway`)).toBeNull();
    expect((await auditItem(r, over, 'console-x')).initial).toBe(500);
  });

  it('serves /metrics with controller-runtime names, /healthz and /readyz', async () => {
    const base = `http://127.0.0.1:${env.op.port}`;
    await eventually('readyz', async () => (await fetch(`${base}/readyz`)).status === 200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const n of [
      OPERATOR_METRICS.reconcileTotal,
      OPERATOR_METRICS.reconcileTime,
      OPERATOR_METRICS.workqueueDepth,
      OPERATOR_METRICS.leaderStatus,
      OPERATOR_METRICS.salePhase,
      OPERATOR_METRICS.saleRemaining,
    ]) {
      expect(text).toContain(n);
    }
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="flashsale",result="requeue_after"\} \d+/);
  });
});
