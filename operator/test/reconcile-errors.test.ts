/**
 * A Kubernetes-side reconcile error on the real control plane goes into the FlashSale's status, not only into the
 * operator's log: a ResourceQuota that allows no Deployments makes the API server refuse the gateway's apply; the
 * sale reports Ready=False and Degraded=True with reason ReconcileError and the API server's message (as KEDA writes
 * Ready=False with the error) and a Warning Event; once the quota is gone the retried reconcile makes it Ready.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  condition,
  deleteFlashSale,
  eventsWith,
  exampleSale,
  getJson,
  kubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const env = useTestOperator('op-kerr');

describe('Kubernetes-side reconcile errors', () => {
  it('are written into Ready/Degraded with the API server message, and cleared once the apply succeeds', async () => {
    const quota = 'no-deployments';
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: quota, namespace: env.ns },
        spec: { hard: { 'count/deployments.apps': '0' } },
      }),
    );
    // the quota controller has computed its usage: admission now refuses with "exceeded quota"
    await eventually('the quota status', async () => {
      const q = JSON.parse(await kubectl(['-n', env.ns, 'get', 'resourcequota', quota, '-o', 'json']));
      return q.status?.hard?.['count/deployments.apps'] === '0';
    });

    const name = uniq('kerr');
    await applyManifest(exampleSale(name, env.ns));
    const fs = await eventually(
      'Ready=False with reason ReconcileError',
      async () => {
        const s = await getJson('flashsale', env.ns, name);
        return condition(s, 'Ready')?.reason === 'ReconcileError' ? s : null;
      },
      30_000,
    );
    const ready = condition(fs, 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toContain(`${name}-gateway`);
    expect(ready?.message).toContain('exceeded quota');
    expect(condition(fs, 'Degraded')).toMatchObject({ status: 'True', reason: 'ReconcileError' });
    expect(condition(fs, 'Degraded')?.message).toBe(ready?.message);
    const events = await eventsWith(env.ns, name, ['ReconcileError'], true);
    expect(events.filter((e) => e.type === 'Warning' && e.reason === 'ReconcileError').length).toBeGreaterThan(0);

    await kubectl(['-n', env.ns, 'delete', 'resourcequota', quota]);
    const after = await waitReady(env.ns, name, 60_000);
    expect(condition(after, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    await deleteFlashSale(env.ns, name);
  }, 120_000);
});
