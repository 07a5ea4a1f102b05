/**
 * Blue-green analysis on real metrics, on the real node: with `analysis.previewTraffic: Shared` (the default) the
 * sale's Service selects both colours while the preview is analysed, so the preview serves a share of the live
 * orders, the Prometheus the Prometheus Operator manages scrapes its pods under the preview Service, and the operator
 * judges those requests. A good new version (the second image tag) passes and is promoted without a person; a bad one
 * (a JSON Web Key Set URL nobody answers: every order 503, /ready still 200) fails and is aborted: traffic back on
 * the old colour alone, the preview at 0, and every accepted order reaches a final status.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { assertBooks } from '../support/audit.ts';
import { eventually } from '../support/services.ts';
import { sleep } from '../support/wait.ts';
import { monitoredSale, promNumber, useMetricsCluster, waitScraped } from './metrics-support.ts';
import {
  applyAndWaitReady,
  auditCluster,
  getSale,
  type Json,
  NEXT_TAG,
  PRODUCT_IMAGE,
  PRODUCT_TAG,
  podsOf,
  type SaleManifest,
  watchStatus,
} from './support.ts';

const { c, metrics } = useMetricsCluster('rc-bga');
const SALE = 'bga-sale';
/** long enough for several 5 s scrapes of the preview, short enough for a bounded test */
const WINDOW = '40s';

function sale(tag: string, mutate?: (m: SaleManifest) => void): SaleManifest {
  return monitoredSale(metrics, SALE, (m) => {
    m.spec.items = [{ id: 'a', quantity: 100_000, perUserLimit: 1 }];
    m.spec.gateway.image = `${PRODUCT_IMAGE}:${tag}`;
    // every order comes from this machine's one address
    m.spec.gateway.env = [{ name: 'RATE_LIMIT_IP_MAX_REQUESTS', value: '10000000' }];
    m.spec.upgradeStrategy = {
      type: 'BlueGreen',
      autoPromote: true,
      scaleDownDelaySeconds: 5,
      progressDeadlineSeconds: 300,
      analysis: {
        prometheusUrl: metrics.prometheusInCluster,
        window: WINDOW,
        maxErrorRate: 0.05,
        // a shared 2-core node under other tests: latency is not what this test judges
        maxP99LatencySeconds: 10,
        onInconclusive: 'Pause',
      },
    };
    mutate?.(m);
  });
}

/** The bad version: buyers identified by tokens whose keys sit at an address nobody answers (a typo in the URL). */
const badIdentity = (m: SaleManifest) => {
  m.spec.gateway.identity = {
    source: 'jwt',
    jwt: { issuer: 'https://issuer.invalid', audience: 'flashsale', jwksUrl: 'http://127.0.0.1:9/jwks.json' },
  };
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A well-formed token naming a key the gateway has not seen: the good version ignores it (identity from the body). */
const token = (user: string) =>
  `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64({ sub: user, iss: 'https://issuer.invalid', aud: 'flashsale', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;

/**
 * One POST /v1/orders on a connection of its own, as many buyers' browsers make them: kube-proxy balances a Service
 * per connection, so a client that keeps one alive stays on one pod, and a shared selection would never show.
 */
function postOrder(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/orders`,
      {
        method: 'POST',
        agent: false,
        timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Clients ordering through the sale's Service until stopped. Like a real client, one that gets a 503 or loses its
 * connection retries with the same idempotency key after a short wait; every answer is kept, and the final one counts.
 */
function orderStream(url: string, clients = 3) {
  const answers: number[] = [];
  const finals: number[] = [];
  const accepted = new Map<string, string>();
  let stop = false;
  let n = 0;
  const one = async () => {
    const key = randomUUID();
    const user = `bga-${n++}-${key.slice(0, 6)}`;
    const body = JSON.stringify({ user_id: user, item_id: 'a', quantity: 1 });
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      try {
        const r = await postOrder(url, body, { 'idempotency-key': key, authorization: `Bearer ${token(user)}` });
        status = r.status;
        const j = (() => {
          try {
            return JSON.parse(r.body) as { order_id?: string };
          } catch {
            return {};
          }
        })();
        if (status === 202 && j.order_id) accepted.set(j.order_id, 'a');
      } catch {
        status = 0;
      }
      answers.push(status);
      if ((status !== 0 && status !== 503) || attempt === 5) {
        finals.push(status);
        return;
      }
      await sleep(300);
    }
  };
  const running = Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stop) {
        await one();
        await sleep(50);
      }
    }),
  );
  return {
    answers,
    finals,
    accepted,
    async stop() {
      stop = true;
      await running;
    },
  };
}

const rollout = async () => (await getSale(c, SALE)).status?.rollout ?? {};
const selector = async (svc: string) =>
  JSON.parse(await c.kubectl(['get', 'service', svc, '-o', 'json'])).spec.selector as Record<string, string>;

/** The preview Service's requests as Prometheus counted them over the last `range`, by status code. */
const previewRequests = (code: string, range = '5m') =>
  promNumber(
    metrics,
    `sum(increase(http_requests_total{namespace="${c.ns}",service="${SALE}-gateway-preview",route="/v1/orders",status_code="${code}"}[${range}]))`,
  );

async function gatewayPods(): Promise<{ colour: string; image: string }[]> {
  const pods = (await podsOf(c, SALE, 'gateway')).filter((p: Json) => !p.metadata.deletionTimestamp);
  return pods.map((p: Json) => ({
    colour: p.metadata.labels['flashsale.dev/colour'],
    image: p.spec.containers[0].image as string,
  }));
}

describe('blue-green analysis of a preview that serves live orders (real node, real metrics)', () => {
  it('a good version passes the analysis on real requests and is promoted automatically', async () => {
    await applyAndWaitReady(c, sale(PRODUCT_TAG));
    await waitScraped(metrics, c, SALE);
    const first = await rollout();
    const watch = await watchStatus(c, SALE);
    const flow = orderStream(`http://${await c.serviceAddr(`${SALE}-gateway`)}`);
    const t0 = Date.now();
    try {
      await eventually('orders flowing', async () => flow.accepted.size > 20, 60_000);
      await c.kubectl(['apply', '-f', '-'], JSON.stringify(sale(NEXT_TAG)));
      const analysing = await eventually(
        'the preview analysed while it shares live traffic',
        async () => {
          const r = await rollout();
          return r.step === 'Analysis' ? r : false;
        },
        240_000,
      );
      expect(analysing.message).toContain('share of live orders');
      // the sale's Service selects both colours meanwhile; the preview Service its colour alone
      expect(await selector(`${SALE}-gateway`)).not.toHaveProperty('flashsale.dev/colour');
      expect((await selector(`${SALE}-gateway-preview`))['flashsale.dev/colour']).toBe(analysing.previewColour);

      // a verdict: promoted (the test's expectation), or paused / aborted (failed at once, with the reason)
      const promoted = await eventually(
        'promoted without a person, on a passed analysis',
        async () => {
          const r = await rollout();
          const done = r.phase === 'Paused' || r.phase === 'Aborted';
          return done || (r.phase === 'Promoted' && r.activeColour === analysing.previewColour) ? r : false;
        },
        180_000,
      );
      expect(promoted.phase, promoted.message).toBe('Promoted');
      expect(promoted.analysis).toBe('Passed');
      expect(promoted.analysisMessage).toMatch(/^error rate [0-9.e-]+ \(max 0.05\), p99 [0-9.e-]+s/);
      expect(promoted.activeColour).not.toBe(first.activeColour);
      // the verdict came from real orders: Prometheus counted the preview's 202s under the preview Service
      expect(await previewRequests('202')).toBeGreaterThan(0);
      await eventually(
        'the old colour scaled down: every gateway pod runs the second tag',
        async () => {
          const pods = await gatewayPods();
          return pods.length > 0 && pods.every((p) => p.image === `${PRODUCT_IMAGE}:${NEXT_TAG}`);
        },
        120_000,
      );
      expect((await selector(`${SALE}-gateway`))['flashsale.dev/colour']).toBe(promoted.activeColour);
    } finally {
      await flow.stop();
    }
    console.log(
      `good version: ${flow.accepted.size} orders accepted in ${Math.round((Date.now() - t0) / 1000)} s; answers ${JSON.stringify(count(flow.answers))}`,
    );
    expect(flow.finals.filter((s) => s !== 202)).toEqual([]);
    const figures = await auditCluster(c, SALE, flow.accepted, watch);
    watch.close();
    assertBooks(figures);
  }, 900_000);

  it('a bad version (5xx for orders, still Ready) fails the analysis and is aborted automatically; no order is lost', async () => {
    const before = await rollout();
    expect(before.phase).toBe('Promoted');
    const watch = await watchStatus(c, SALE);
    const flow = orderStream(`http://${await c.serviceAddr(`${SALE}-gateway`)}`);
    const t0 = Date.now();
    try {
      await eventually('orders flowing', async () => flow.accepted.size > 20, 60_000);
      await c.kubectl(['apply', '-f', '-'], JSON.stringify(sale(NEXT_TAG, badIdentity)));
      const analysing = await eventually(
        'the bad preview Ready and analysed on live traffic',
        async () => {
          const r = await rollout();
          return r.step === 'Analysis' ? r : false;
        },
        240_000,
      );
      expect(analysing.previewColour).not.toBe(before.activeColour);
      const aborted = await eventually(
        'aborted on the failed analysis',
        async () => {
          const r = await rollout();
          return ['Aborted', 'Paused', 'Promoted'].includes(r.phase) ? r : false;
        },
        180_000,
      );
      expect(aborted.phase, aborted.message).toBe('Aborted');
      expect(aborted.message).toContain('analysis failed: error rate');
      expect(aborted.activeColour).toBe(before.activeColour);
      // the preview did serve its share: Prometheus saw its 503s under the preview Service
      expect(await previewRequests('503')).toBeGreaterThan(0);
      expect((await selector(`${SALE}-gateway`))['flashsale.dev/colour']).toBe(before.activeColour);
      await eventually(
        'the aborted preview at 0 pods: only the old colour serves',
        async () => {
          const pods = await gatewayPods();
          return pods.length > 0 && pods.every((p) => p.colour === before.activeColour);
        },
        120_000,
      );
      const afterAbort = flow.answers.length;
      const acceptedAfterAbort = flow.accepted.size;
      await eventually(
        'orders accepted after the abort',
        async () => flow.accepted.size > acceptedAfterAbort + 20,
        60_000,
      );
      // once the Service selects the old colour alone, no order is refused
      expect(flow.answers.slice(afterAbort).filter((s) => s !== 202)).toEqual([]);
    } finally {
      await flow.stop();
    }
    const answers = count(flow.answers);
    console.log(
      `bad version: ${flow.accepted.size} orders accepted in ${Math.round((Date.now() - t0) / 1000)} s; answers ${JSON.stringify(answers)}; finals ${JSON.stringify(count(flow.finals))}`,
    );
    // the clients met the bad preview's 503s during the window (its share of live orders)
    expect(answers['503'] ?? 0).toBeGreaterThan(0);
    const figures = await auditCluster(c, SALE, flow.accepted, watch);
    watch.close();
    assertBooks(figures);
  }, 900_000);
});

function count(xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
