/**
 * The processor's probes during a real Redis outage (a redis-server of this file's own, stopped and started again),
 * against the probes of the Deployment the operator builds: the test reads the liveness and readiness paths, periods
 * and failure thresholds from `buildProcessorDeployment` and plays the kubelet's rule (a probe fails the pod after
 * `failureThreshold` consecutive failures) over a real processor process, time compressed (one round per 250 ms).
 * Redis stays away for more rounds than the liveness budget: the processor must go unready and never be found dead,
 * then become ready again and settle the orders it received during the outage, the same process throughout.
 */
import { type FlashSaleSpec, flashSaleSpecSchema, type RedisClient } from '@flashsale/common';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProcessorDeployment } from '../../operator/src/builders/buildDeployments.ts';
import { makeOrders, produce, waitAllFinal } from '../../processor/test/support.ts';
import { redisOf } from '../support/audit.ts';
import { type Proc, startProcessor } from '../support/procs.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { ThrowawayRedis } from '../support/throwaway-redis.ts';
import { sleep } from '../support/wait.ts';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface HttpProbe {
  httpGet: { path: string; port: string };
  periodSeconds: number;
  failureThreshold: number;
}

/** The processor container's probes as the operator builds them. */
function operatorProbes(): { liveness: HttpProbe; readiness: HttpProbe; port: string } {
  const spec: FlashSaleSpec = flashSaleSpecSchema.parse({
    startsAt: '2026-11-28T08:00:00Z',
    endsAt: '2026-11-28T10:00:00Z',
    items: [{ id: 'a', quantity: 1 }],
  });
  const defaults = { gatewayImage: 'i', processorImage: 'i', gatewayCommand: ['x'], processorCommand: ['x'] };
  const d = buildProcessorDeployment({
    sale: { name: 'bf', namespace: 'shop', uid: 'u' },
    spec,
    defaults,
    replicas: 1,
    configHash: 'h',
  });
  const c = d.spec.template.spec.containers[0] as unknown as {
    livenessProbe: HttpProbe;
    readinessProbe: HttpProbe;
    ports: { name: string }[];
  };
  return { liveness: c.livenessProbe, readiness: c.readinessProbe, port: c.ports[0]!.name };
}

/** The kubelet's bookkeeping of one probe: consecutive failures, and whether the threshold was ever reached. */
class ProbeTrack {
  consecutive = 0;
  tripped = 0;
  readonly codes: number[] = [];
  readonly url: string;
  readonly threshold: number;
  constructor(url: string, threshold: number) {
    this.url = url;
    this.threshold = threshold;
  }
  async round(): Promise<number> {
    const code = await fetch(this.url, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);
    this.codes.push(code);
    // the kubelet counts 200-399 as success
    this.consecutive = code >= 200 && code < 400 ? 0 : this.consecutive + 1;
    if (this.consecutive === this.threshold) this.tripped++;
    return code;
  }
}

describe('processor probes during a Redis outage', () => {
  it('unready while Redis is away, never failing liveness; ready again and settling, same process', async () => {
    const probes = operatorProbes();
    expect(probes.port).toBe('metrics');
    // the pod's liveness budget in probe rounds: the outage below lasts longer
    const livenessRounds = probes.liveness.failureThreshold;
    const outageRounds = Math.max(4 * livenessRounds, 3 * probes.readiness.failureThreshold);

    const server = new ThrowawayRedis();
    cleanup.push(() => server.destroy());
    await server.start();
    const redis: RedisClient = redisOf(server.addr);
    cleanup.push(() => redis.disconnect());
    const brokers = requireService('kafka').brokers;
    const sale = uniqueSale('probes');
    await prepareSale({ redis, brokers, sale, items: { i1: 50 }, partitions: 2 });
    const p: Proc = await startProcessor({
      ...saleProcEnv(sale, server.addr, brokers),
      PAYMENT_FAILURE_RATE: '0',
      // retries outlast the outage, so the orders sent during it settle after it
      REDIS_RETRY_ATTEMPTS: '60',
      REDIS_RETRY_BASE: '100ms',
      REDIS_RETRY_MAX: '500ms',
      REDIS_COMMAND_TIMEOUT: '1s',
      HEALTH_CHECK_TIMEOUT: '500ms',
    });
    cleanup.push(() => p.kill());
    const pid = p.child.pid;
    const live = new ProbeTrack(`${p.url}${probes.liveness.httpGet.path}`, probes.liveness.failureThreshold);
    const ready = new ProbeTrack(`${p.url}${probes.readiness.httpGet.path}`, probes.readiness.failureThreshold);
    const round = () => Promise.all([live.round(), ready.round(), sleep(250)]);

    // ready before the outage (the consumer joined its group, Redis answers)
    const until = Date.now() + 30_000;
    while ((await ready.round()) !== 200 && Date.now() < until) await sleep(250);
    expect(ready.codes.at(-1), p.tail()).toBe(200);
    expect(await live.round()).toBe(200);

    await server.stop();
    const during = makeOrders(sale, ['i1'], 10, 'during');
    const sent = produce(sale, during);
    for (let i = 0; i < outageRounds; i++) await round();
    await sent;
    const outageReady = ready.codes.slice(-outageRounds);
    const outageLive = live.codes.slice(-outageRounds);
    // never restarted: liveness answered 200 in every round of an outage longer than its budget...
    expect(outageLive, `liveness during the outage: ${outageLive}`).toEqual(Array(outageRounds).fill(200));
    expect(live.tripped).toBe(0);
    // ...but unready: the kubelet takes the pod out of its Services and a rollout waits for it
    expect(ready.tripped, `readiness during the outage: ${outageReady}`).toBeGreaterThanOrEqual(1);
    expect(outageReady.at(-1)).toBe(503);
    const body = await fetch(`${p.url}${probes.readiness.httpGet.path}`).then((r) => r.json());
    expect(body).toMatchObject({ status: 'not_ready', redis: false, kafka: true, draining: false });

    await server.start();
    const back = Date.now() + 30_000;
    while ((await ready.round()) !== 200 && Date.now() < back) await sleep(250);
    expect(ready.codes.at(-1), p.tail()).toBe(200);
    const final = await waitAllFinal(redis, sale, during);
    expect([...final.values()]).toEqual(Array(10).fill('CONFIRMED'));
    expect(p.alive, p.tail()).toBe(true);
    expect(p.child.pid).toBe(pid);
    expect(live.tripped).toBe(0);
  }, 120_000);
});
