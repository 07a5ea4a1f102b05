/**
 * The drain gate: past endsAt + scaleDownGrace the sale scales to zero only when its processors have nothing left
 * (no consumer lag, no unit held), and not while that cannot be read. The autoscalers read the lag counted once.
 */
import { consumerLagQuery, type FlashSaleSpec, flashSaleSpecSchema, saleMatchers } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from './buildAutoscalers.ts';
import { drainGate, replicaPlan, saleSchedule } from './schedule.ts';

// biome-ignore lint/suspicious/noExplicitAny: asserting on built JSON
type Json = any;
const spec = (over: Record<string, unknown> = {}): FlashSaleSpec =>
  flashSaleSpecSchema.parse({
    startsAt: '2026-11-28T08:00:00Z',
    endsAt: '2026-11-28T10:00:00Z',
    items: [{ id: 'a', quantity: 10 }],
    ...over,
  });
// endsAt + the default 15m grace, and a minute later
const afterGrace = Date.parse('2026-11-28T10:16:00Z');

describe('drain gate', () => {
  const s = spec();
  const clock = saleSchedule(s, afterGrace);

  it('over with nothing left: scaled to zero', () => {
    expect(clock.stage).toBe('over');
    const g = drainGate(clock, { lag: 0, heldUnits: 0 });
    expect(g.stage).toBe('over');
    expect(replicaPlan(s, g.stage).processor).toEqual({ replicas: 0, min: 0, max: 0 });
  });

  it.each([
    [{ lag: 120, heldUnits: 0 }, 'consumer lag 120'],
    [{ lag: 0, heldUnits: 3 }, '3 unit(s) held'],
    [{ lag: 7, heldUnits: 2 }, 'consumer lag 7, 2 unit(s) held'],
    [{ error: 'consumer lag unreadable: Kafka k:9092: down' }, 'consumer lag unreadable: Kafka k:9092: down'],
    [{ lag: 0 }, 'open holds not read'],
  ])('a backlog %j keeps the processors (draining: %s)', (backlog, why) => {
    const g = drainGate(clock, backlog);
    expect(g).toMatchObject({ stage: 'draining', waitingFor: why, nextChangeInMs: undefined });
    const plan = replicaPlan(s, g.stage);
    expect(plan.autoscaled).toBe(true);
    expect(plan.processor.min).toBe(s.autoscaling.processor.minReplicas);
    expect(plan.processor.max).toBe(Math.min(s.autoscaling.processor.maxReplicas, s.topics.partitions));
  });

  it('before endsAt + grace the backlog changes nothing', () => {
    const live = saleSchedule(s, Date.parse('2026-11-28T09:00:00Z'));
    expect(drainGate(live, { lag: 5000 })).toBe(live);
  });
});

describe('autoscalers read the lag counted once', () => {
  it("the processor's KEDA trigger is the alert's query: the operator's lag of this sale, never a sum over pods", () => {
    const s = spec();
    const [, processor] = buildScaledObjects(
      { name: 'bf', namespace: 'shop', uid: 'u' },
      s,
      replicaPlan(s, 'live'),
    ) as unknown as { spec: { triggers: { metadata: Record<string, string> }[]; fallback: Record<string, unknown> } }[];
    const q = processor!.spec.triggers[0]!.metadata;
    expect(q.query).toBe(consumerLagQuery(saleMatchers('bf', 'shop')));
    expect(q.query).toBe('max by (namespace, sale) (flashsale_consumer_lag{sale="bf",namespace="shop"})');
    expect(q.ignoreNullValues).toBe('false');
    expect(processor!.spec.fallback).toMatchObject({ failureThreshold: 3, behavior: 'currentReplicasIfHigher' });
  });

  it('scale-down pace from autoscaling.scaleDown, the same for HPAs and KEDA (default: 5 minutes, 1 pod a minute)', () => {
    const ref = { name: 'bf', namespace: 'shop', uid: 'u' };
    const down = (s: FlashSaleSpec) => {
      const plan = replicaPlan(s, 'live');
      const [, hpa] = buildHorizontalPodAutoscalers(ref, s, plan) as unknown as { spec: { behavior: Json } }[];
      const [, so] = buildScaledObjects(ref, s, plan) as unknown as { spec: { advanced: Json } }[];
      expect(so!.spec.advanced.horizontalPodAutoscalerConfig.behavior).toEqual(hpa!.spec.behavior);
      return hpa!.spec.behavior.scaleDown;
    };
    expect(down(spec())).toEqual({
      stabilizationWindowSeconds: 300,
      policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
    });
    const quick = spec({ autoscaling: { scaleDown: { stabilizationWindow: '20s', podsPerMinute: 4 } } });
    expect(down(quick)).toEqual({
      stabilizationWindowSeconds: 20,
      policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }],
    });
  });
});
