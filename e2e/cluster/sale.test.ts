/**
 * The README's Kubernetes steps on the real node: `helm install` with the quick start, `kubectl apply` of the example
 * sale, a crowd through the gateway's Service with `flashsale load`, the sold-out sale in `kubectl flashsale status`.
 * Every pod is a real container on the real node, admitted under Pod Security "restricted", Ready by its probes.
 * Then the end of the sale: drained, one read-only gateway pod still answers a buyer's order through the Service.
 */
import { join } from 'node:path';
import { orderKeyGlob, scanPages } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { ROOT, runOk } from '../packaging/support.ts';
import { eventually, requireService } from '../support/services.ts';
import {
  applyAndWaitReady,
  auditCluster,
  condition,
  getSale,
  type Json,
  PRODUCT_IMAGE,
  PRODUCT_TAG,
  podsOf,
  quickstartSale,
  useRealCluster,
} from './support.ts';

const c = useRealCluster('rc-sale');

describe('a sale on the real node, as the README runs it', () => {
  it('becomes Ready with real pods, sells out through the gateway Service, and the books are right', async () => {
    const node = requireService('node');
    const sale = 'first-sale';
    const ready = await applyAndWaitReady(c, quickstartSale(sale));
    expect(ready.status.phase).toBe('Live');

    // every pod of the namespace: on the real node, from the local image, Ready, never restarted
    const pods = JSON.parse(await c.kubectl(['get', 'pods', '-o', 'json'])).items as Json[];
    const byPart = (part: string) => pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === part);
    expect(byPart('operator')).toHaveLength(2);
    expect(byPart('quickstart')).toHaveLength(2);
    expect(byPart('gateway')).toHaveLength(1);
    expect(byPart('processor')).toHaveLength(1);
    for (const p of pods) {
      expect(p.spec.nodeName, p.metadata.name).toBe(node.name);
      expect(p.status.phase, p.metadata.name).toBe('Running');
      expect(p.status.podIP, p.metadata.name).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      for (const s of p.status.containerStatuses) {
        expect(s.ready, `${p.metadata.name}/${s.name}`).toBe(true);
        expect(s.restartCount, `${p.metadata.name}/${s.name}`).toBe(0);
      }
    }
    for (const p of [...byPart('operator'), ...byPart('gateway'), ...byPart('processor')]) {
      expect(p.spec.containers[0].image).toBe(`${PRODUCT_IMAGE}:${PRODUCT_TAG}`);
      expect(p.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    }

    // crowds at the gateway's ClusterIP, as the README sends them, until the stock is gone (declined payments give
    // units back, so one crowd may leave a few); the CLI audits each from Redis and exits 3 on a breach
    const gateway = await c.serviceAddr(`${sale}-gateway`);
    const redis = await c.serviceAddr('redis-service', 6379);
    const reports: Json[] = [];
    for (let seed = 1; seed <= 4; seed++) {
      const out = await runOk(
        join(ROOT, 'cli/bin/flashsale'),
        [
          'load',
          '--url',
          `http://${gateway}`,
          '--sale',
          sale,
          '--redis',
          redis,
          '--users',
          '400',
          '--attempts',
          '700',
          '--seed',
          String(seed),
          '--settle',
          '90',
          '--no-progress',
          '-o',
          'json',
        ],
        { timeoutMs: 240_000 },
      );
      const report = JSON.parse(out);
      reports.push(report);
      expect(report.ok, out).toBe(true);
      expect(report.oversold).toBe(0);
      expect(report.lost).toBe(0);
      expect(report.transportErrors).toBe(0);
      if (report.verification.units.remaining === 0) break;
    }
    expect(reports[0].accepted).toBeGreaterThan(0);

    // sold out, seen through the kubectl plugin: 150 units sold, none held, none left
    const status = await eventually(
      `${sale} SoldOut in kubectl flashsale status`,
      async () => {
        const s = JSON.parse(await c.plugin(['status', sale, '-o', 'json']));
        // the status is level-based: the phase turns SoldOut when no unit remains, while the last holds may still
        // be paid; wait for the write that counts them sold (a CI run read 23/150 from the first SoldOut write)
        return s.status?.phase === 'SoldOut' && s.status.totalSold === s.status.totalQuantity ? s : false;
      },
      120_000,
    ).catch(async (e) => {
      const books = await auditCluster(c, sale, new Map(), undefined, 0);
      const last = reports.at(-1);
      throw new Error(
        `${(e as Error).message}\nstatus: ${await c.plugin(['status', sale])}\nbooks: ${JSON.stringify(books.audits)}\n` +
          `last crowd: accepted ${last?.accepted}, confirmed ${last?.confirmed}, soldOutAfterMs ${last?.soldOutAfterMs}`,
      );
    });
    expect([status.status.totalSold, status.status.totalQuantity]).toEqual([150, 150]);
    const fs = await getSale(c, sale);
    expect(fs.status.phase).toBe('SoldOut');
    const human = await c.plugin(['status', sale]);
    expect(human).toMatch(/SoldOut/);

    // the books from Redis: every unit sold once, nothing oversold, nothing drifting
    const books = await auditCluster(c, sale, new Map());
    expect(books.initial).toBe(150);
    expect(books.remaining).toBe(0);
    expect(books.confirmed).toBe(150);
    expect(books.oversold).toBe(0);
    expect(books.drift).toBe(0);
    expect(books.doubleConfirmed).toBe(0);
  }, 600_000);

  it('after the sale: drained, one read-only gateway pod answers a buyer through the Service until the retention ends', async () => {
    const sale = 'first-sale';
    // a buyer's confirmed order, from the quick start's Redis
    const r = await c.redis();
    let orderKey: string | undefined;
    await scanPages(r, orderKeyGlob(sale), async (node, keys) => {
      for (const k of keys) if (!orderKey && (await node.hget(k, 'status')) === 'CONFIRMED') orderKey = k;
    });
    expect(orderKey).toBeDefined();
    const orderId = orderKey!.slice(orderKey!.lastIndexOf(':order:') + ':order:'.length);

    // the sale ended 16 minutes ago (grace 15m): the processors have nothing left, so it goes to its read-only gateway
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    const patch = { spec: { startsAt: iso(Date.now() - 3_600_000), endsAt: iso(Date.now() - 16 * 60_000) } };
    await c.kubectl(['patch', 'flashsale', sale, '--type', 'merge', '-p', JSON.stringify(patch)]);
    await eventually(
      `${sale}: StatusOnly, Ready, one read-only gateway pod and no processor pod`,
      async () => {
        const fs = await getSale(c, sale);
        if (condition(fs, 'ScalingReady')?.reason !== 'StatusOnly' || condition(fs, 'Ready')?.status !== 'True') {
          return false;
        }
        const gw = (await podsOf(c, sale, 'gateway')).filter((p) => !p.metadata.deletionTimestamp);
        const proc = await podsOf(c, sale, 'processor');
        const mode = (p: Json) => p.spec.containers[0].env.find((e: Json) => e.name === 'GATEWAY_MODE')?.value;
        return (
          gw.length === 1 &&
          mode(gw[0]) === 'read-only' &&
          gw[0].status.containerStatuses?.[0]?.ready &&
          proc.length === 0
        );
      },
      240_000,
    );
    const gateway = await c.serviceAddr(`${sale}-gateway`);
    // the Service reaches the read-only pod only once kube-proxy has dropped the old pod's endpoint (a terminating pod
    // lingers there for a moment): five answers in a row from it; its readiness ignores Kafka
    await eventually(
      'the Service answering from the read-only pod only',
      async () => {
        for (let i = 0; i < 5; i++) {
          const ready = (await (await fetch(`http://${gateway}/ready`)).json()) as Json;
          if (ready.mode !== 'read-only') return false;
        }
        return true;
      },
      60_000,
    );
    expect(await (await fetch(`http://${gateway}/ready`)).json()).toMatchObject({ status: 'ready', mode: 'read-only' });
    const res = await fetch(`http://${gateway}/v1/orders/${orderId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ order_id: orderId, status: 'CONFIRMED' });
    const post = await fetch(`http://${gateway}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'after-the-sale' },
      body: JSON.stringify({ user_id: 'late-buyer', item_id: 'sneaker-42', quantity: 1 }),
    });
    expect(post.status).toBe(410);
    expect(((await post.json()) as Json).code).toBe('SALE_ENDED');
    const [pod] = await podsOf(c, sale, 'gateway');
    expect(pod.status.containerStatuses[0].restartCount).toBe(0);
  }, 360_000);
});
