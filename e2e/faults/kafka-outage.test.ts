/**
 * The Kafka broker killed during a burst through the real gateway and processor processes, and started again (same
 * data): the breaker opens within its threshold, clients get 503 + Retry-After (fast, without waiting on the broker),
 * no order answered 202 is lost, and both processes recover by themselves once the broker is back. Uses a throwaway
 * broker of its own (gateway/test/support/throwaway-kafka.ts) so the shared one is never disturbed.
 */
import { processorGroupId, type RedisClient, topics } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThrowawayKafka } from '../../gateway/test/support/throwaway-kafka.ts';
import { assertBooks, auditRun, openOrders, redisOf, StatusWatch } from '../support/audit.ts';
import type { Answer } from '../support/load.ts';
import { burst, steadyStream } from '../support/load.ts';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { recordFault } from '../support/report.ts';
import { kafkaAdmin, prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually, sleep } from '../support/wait.ts';

const sale = uniqueSale('fkafka');
const items = { tv: 150, radio: 150 };
const kafka = new ThrowawayKafka();
let redis: RedisClient;
let watch: StatusWatch;
const procs: Proc[] = [];

beforeAll(async () => {
  const r = requireService('redis');
  redis = redisOf(r.addr);
  await kafka.start(60_000);
  await prepareSale({ redis, brokers: kafka.brokers, sale, items, partitions: 2 });
  watch = await new StatusWatch(r.addr, sale).start();
}, 90_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await kafka.destroy();
  watch?.close();
  redis?.disconnect();
});

/** How often the gateway's log says its breaker opened. */
const breakerOpens = (gw: Proc) =>
  gw.output.split('\n').filter((l) => l.includes('"circuit_breaker_state"') && l.includes('"state":"open"')).length;

async function breakerState(gw: Proc): Promise<string> {
  try {
    const r = await fetch(`${gw.url}/health`, { signal: AbortSignal.timeout(2000) });
    return ((await r.json()) as { circuit_breaker_state?: string }).circuit_breaker_state ?? '?';
  } catch {
    return 'unreachable';
  }
}

describe('Kafka broker outage', () => {
  it('breaker opens, 503 + Retry-After while down, no accepted order lost, recovers by itself', async () => {
    const env = saleProcEnv(sale, requireService('redis').addr, kafka.brokers);
    const [gw, p] = await Promise.all([
      startGateway({
        ...env,
        KAFKA_SEND_TIMEOUT: '2s',
        CIRCUIT_BREAKER_FAILURE_THRESHOLD: '5',
        CIRCUIT_BREAKER_BASE_TIMEOUT: '2s',
        CIRCUIT_BREAKER_MAX_TIMEOUT: '4s',
        HEALTH_CHECK_TIMEOUT: '500ms',
      }),
      startProcessor({ ...env, PAYMENT_FAILURE_RATE: '0.1', HOLD_TTL: '60s' }),
    ]);
    procs.push(gw, p);

    // a steady stream of orders from 4 clients until told to stop
    const stream = steadyStream(gw.url, { items: ['radio', 'tv'], clients: 4, paceMs: 25 });
    const { log } = stream;
    try {
      await eventually('a steady stream of accepted orders', () => log.accepted.size >= 40, 30_000, 50);
      const inFlight = await openOrders(redis, sale, log.accepted);
      const downAt = Date.now();
      await kafka.stop();

      // the breaker opens: within the threshold of failed sends, then 503s come at once
      const openedAt = await eventually(
        'the breaker to open',
        async () => (await breakerState(gw)) === 'open' && Date.now(),
        30_000,
        100,
      );
      // stays down a while: clients keep retrying into the open breaker until it half-opened, its trial send failed
      // on the dead broker and it opened again
      await eventually(
        'the breaker to re-open after a failed half-open trial',
        () => breakerOpens(gw) >= 2,
        30_000,
        100,
      );
      const backAt = Date.now();
      await kafka.start(60_000);
      const brokerUpMs = Date.now() - backAt;
      // service comes back by itself: the first 202 after the broker answers again
      const firstOk = await eventually(
        'a 202 after the broker came back',
        () => log.answers.find((x) => x.status === 202 && x.at > backAt),
        40_000,
        100,
      );
      // orders keep flowing after the recovery
      await eventually(
        'more orders accepted after the recovery',
        () => log.answers.filter((x) => x.status === 202 && x.at > firstOk.at).length >= 40,
        30_000,
        50,
      );
      await stream.stop();

      const during = log.answers.filter((a) => a.at > downAt && a.at < firstOk.at && a.status !== 202);
      const refusedFast = during.filter((a: Answer) => a.status === 503 && a.at > openedAt);
      // sends that really waited on the dead broker (the rest were refused at once by the open breaker)
      const waited = during.filter((a: Answer) => a.ms >= 1000 && a.at < openedAt);
      const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 60_000 });
      const firstOpen = gw.output
        .split('\n')
        .filter((l) => l.includes('"circuit_breaker_state"'))
        .map((l) => JSON.parse(l) as { state: string; failures?: number })
        .find((l) => l.state === 'open');
      await recordFault(
        {
          scenario: 'kafka-broker-outage',
          fault:
            'Kafka broker SIGKILLed mid-burst, restarted (same data) once the open breaker re-opened after a failed half-open trial',
          faults: 1,
          inFlight,
          recoveryMs: firstOk.at - (backAt + brokerUpMs),
          recoveryOf: 'broker answering again -> first 202',
          refused: Object.fromEntries(Object.entries(log.byStatus()).filter(([s]) => s !== '202')),
          notes:
            `breaker open ${((openedAt - downAt) / 1000).toFixed(1)} s after the kill, after ${firstOpen?.failures} consecutive failed sends; ${during.length} refusals while ` +
            `down (all 503 with Retry-After, ${refusedFast.length} of them after the breaker opened, ${waited.length} ` +
            `waited on the broker: threshold 5, 4 clients); broker restart took ` +
            `${(brokerUpMs / 1000).toFixed(1)} s; ${audit.confirmedWithout202} order(s) confirmed without a 202 ` +
            `(answered 503 but written); final statuses ${JSON.stringify(audit.statuses)}.`,
          test: 'e2e/faults/kafka-outage.test.ts',
        },
        audit,
      );
      if (audit.lost > 0) {
        // say where the lost orders are: in the topic or not, consumed or not
        const admin = kafkaAdmin(kafka.brokers);
        await admin.connect();
        const ends = await admin.fetchTopicOffsets(topics(sale).orders);
        const committed = await admin.fetchOffsets({ groupId: processorGroupId(sale), topics: [topics(sale).orders] });
        await admin.disconnect();
        process.stderr.write(
          `[kafka-outage] lost ${audit.open.join(',')}; ends ${JSON.stringify(ends)}; committed ${JSON.stringify(committed)}\n` +
            `--- processor\n${p.tail(60)}\n--- gateway\n${gw.tail(30)}\n`,
        );
      }
      assertBooks(audit);
      expect(during.length).toBeGreaterThan(0);
      for (const a of during) {
        expect(a.status, JSON.stringify(a)).toBe(503);
        expect(Number(a.retryAfter), JSON.stringify(a)).toBeGreaterThanOrEqual(1);
      }
      expect(refusedFast.length).toBeGreaterThan(0);
      // within the threshold: the gateway's own log says it opened after 5 consecutive failed sends
      expect(firstOpen, gw.tail()).toMatchObject({ state: 'open', failures: 5 });
      // once open, refusals do not wait on the broker (a half-open trial now and then does)
      expect(refusedFast.filter((a) => a.ms < 1000).length).toBeGreaterThanOrEqual(0.9 * refusedFast.length);
      expect(await breakerState(gw)).not.toBe('open');
      expect(p.alive, `processor exited:\n${p.tail()}`).toBe(true);
      // and healthy again: a consumer kafkajs restarted after a crash during the outage is back in its group
      await p.waitHealthy('/health', 30_000);
      expect(gw.alive).toBe(true);
    } finally {
      await stream.stop();
    }
  }, 115_000);

  it('a processor started before its broker and topics waits, alive and not ready, then sells once they exist', async () => {
    // the order the operator creates things in: the Deployments first, the topics once the broker answers
    const late = uniqueSale('fkafka-late');
    await kafka.stop();
    const env = saleProcEnv(late, requireService('redis').addr, kafka.brokers);
    const p = await startProcessor(env, { wait: false });
    procs.push(p);
    await eventually('the processor to say it waits for Kafka', () => p.output.includes('"startup_waiting"'), 30_000);
    // past the ~11 s after which kafkajs's own retries gave up and the processor exited (into CrashLoopBackOff)
    await sleep(15_000);
    expect(p.alive, `processor exited:\n${p.tail()}`).toBe(true);
    expect((await fetch(`${p.url}/livez`)).status).toBe(200);
    expect((await fetch(`${p.url}/readyz`)).status).toBe(503);

    await kafka.start(60_000);
    await prepareSale({ redis, brokers: kafka.brokers, sale: late, items: { lamp: 5 }, partitions: 2 });
    await p.waitHealthy('/readyz', 60_000);
    const gw = await startGateway(env);
    procs.push(gw);
    const lateWatch = await new StatusWatch(requireService('redis').addr, late).start();
    try {
      const log = await burst(gw.url, { items: ['lamp'], total: 8, concurrency: 2 });
      expect(log.accepted.size).toBeGreaterThanOrEqual(5);
      const audit = await auditRun({
        redis,
        sale: late,
        accepted: log.accepted,
        watch: lateWatch,
        waitFinalMs: 30_000,
      });
      assertBooks(audit);
      expect(audit.confirmed + audit.released).toBeGreaterThan(0);
      expect(p.alive).toBe(true);
    } finally {
      lateWatch.close();
    }
  }, 150_000);
});
