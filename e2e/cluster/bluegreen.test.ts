/**
 * A blue-green upgrade of the gateway on the real node while orders flow through the active Service: the preview
 * colour runs the second image tag as real pods, `kubectl flashsale promote` switches the Service, and a second
 * upgrade is aborted with `kubectl flashsale abort`. No order is refused for the upgrade, none is lost.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assertBooks } from '../support/audit.ts';
import { eventually } from '../support/services.ts';
import {
  applyAndWaitReady,
  auditCluster,
  getSale,
  type Json,
  NEXT_TAG,
  PRODUCT_IMAGE,
  PRODUCT_TAG,
  podsOf,
  quickstartSale,
  type SaleManifest,
  useRealCluster,
  watchStatus,
} from './support.ts';

const c = useRealCluster('rc-bg');
const SALE = 'bg-sale';

function sale(tag: string): SaleManifest {
  return quickstartSale(SALE, (m) => {
    m.spec.items = [{ id: 'a', quantity: 5000, perUserLimit: 1 }];
    m.spec.gateway.image = `${PRODUCT_IMAGE}:${tag}`;
    m.spec.gateway.env = [{ name: 'RATE_LIMIT_IP_MAX_REQUESTS', value: '1000000' }];
    m.spec.upgradeStrategy = {
      type: 'BlueGreen',
      autoPromote: false,
      scaleDownDelaySeconds: 5,
      progressDeadlineSeconds: 300,
    };
  });
}

/**
 * Clients ordering through the active Service until stopped. Like a real client, one that loses its connection (a
 * drained old colour closes keep-alive sockets) retries with the same idempotency key; only the final answer counts.
 */
function orderFlow(url: string) {
  const finals: { status: number; orderId?: string }[] = [];
  const accepted = new Map<string, string>();
  let stop = false;
  let n = 0;
  const one = async () => {
    const key = randomUUID();
    const body = JSON.stringify({ user_id: `bg-${n++}-${key.slice(0, 4)}`, item_id: 'a', quantity: 1 });
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`${url}/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        const j = (await r.json().catch(() => ({}))) as { order_id?: string };
        finals.push({ status: r.status, ...(j.order_id ? { orderId: j.order_id } : {}) });
        if (r.status === 202 && j.order_id) accepted.set(j.order_id, 'a');
        return;
      } catch {
        if (attempt === 3) {
          finals.push({ status: 0 });
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const client = async () => {
    while (!stop) {
      await one();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const running = Promise.all([client(), client()]);
  return {
    finals,
    accepted,
    async stop() {
      stop = true;
      await running;
    },
  };
}

const rollout = async () => (await getSale(c, SALE)).status?.rollout ?? {};

async function gatewayImages(): Promise<string[]> {
  const pods = (await podsOf(c, SALE, 'gateway')).filter((p: Json) => !p.metadata.deletionTimestamp);
  return [...new Set(pods.map((p: Json) => p.spec.containers[0].image as string))];
}

describe('blue-green upgrade of the gateway on the real node', () => {
  it('to a second image tag while orders flow: promoted by hand, then a further upgrade aborted', async () => {
    await applyAndWaitReady(c, sale(PRODUCT_TAG));
    const watch = await watchStatus(c, SALE);
    const url = `http://${await c.serviceAddr(`${SALE}-gateway`)}`;
    const flow = orderFlow(url);
    try {
      const first = await rollout();
      await eventually('orders flowing', async () => flow.accepted.size > 10, 60_000);

      // upgrade: the preview colour comes up as real pods of the second tag and waits for a promote
      await c.kubectl(['apply', '-f', '-'], JSON.stringify(sale(NEXT_TAG)));
      const paused = await eventually(
        'rollout Paused with the preview ready',
        async () => {
          const r = await rollout();
          return r.phase === 'Paused' ? r : false;
        },
        240_000,
      );
      expect(paused.previewColour).not.toBe(first.activeColour);
      const preview = await c.serviceAddr(`${SALE}-gateway-preview`);
      expect((await fetch(`http://${preview}/ready`)).status).toBe(200);
      const beforePromote = flow.accepted.size;

      await c.plugin(['promote', SALE]);
      const promoted = await eventually(
        'rollout Promoted',
        async () => {
          const r = await rollout();
          return r.phase === 'Promoted' && r.activeColour === paused.previewColour ? r : false;
        },
        120_000,
      );
      await eventually(
        'old colour scaled down: every gateway pod runs the second tag',
        async () => {
          const images = await gatewayImages();
          return images.length === 1 && images[0] === `${PRODUCT_IMAGE}:${NEXT_TAG}`;
        },
        120_000,
      );
      await eventually(
        'orders accepted by the new colour',
        async () => flow.accepted.size > beforePromote + 20,
        60_000,
      );

      // a further upgrade (back to the first tag), aborted: traffic stays on the promoted colour
      await c.kubectl(['apply', '-f', '-'], JSON.stringify(sale(PRODUCT_TAG)));
      await eventually('second rollout Paused', async () => (await rollout()).phase === 'Paused', 240_000);
      await c.plugin(['abort', SALE]);
      const aborted = await eventually(
        'rollout Aborted',
        async () => {
          const r = await rollout();
          return r.phase === 'Aborted' ? r : false;
        },
        120_000,
      );
      expect(aborted.activeColour).toBe(promoted.activeColour);
      await eventually(
        'aborted preview scaled down',
        async () => {
          const images = await gatewayImages();
          return images.length === 1 && images[0] === `${PRODUCT_IMAGE}:${NEXT_TAG}`;
        },
        120_000,
      );
      const afterAbort = flow.accepted.size;
      await eventually(
        'orders still accepted after the abort',
        async () => flow.accepted.size > afterAbort + 10,
        60_000,
      );
    } finally {
      await flow.stop();
    }

    const refused = flow.finals.filter((f) => f.status !== 202);
    expect(refused, JSON.stringify(refused.slice(0, 5))).toEqual([]);
    const figures = await auditCluster(c, SALE, flow.accepted, watch);
    watch.close();
    assertBooks(figures);
  }, 900_000);
});
