/**
 * The drain gate: past endsAt + scaleDownGrace the sale scales to zero only when its processors have nothing left
 * (no consumer lag, no unit held), and not while that cannot be read. The end of a sale: one read-only gateway until
 * endsAt + statusRetention. The autoscalers read the lag counted once.
 */
import {
  consumerLagQuery,
  type FlashSaleSpec,
  flashSaleSpecSchema,
  ORDER_RECORD_TTL_SECONDS,
  parseFlashSaleSpec,
  saleMatchers,
} from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from './buildAutoscalers.ts';
import { buildGatewayDeployment } from './buildDeployments.ts';
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
  // statusRetention = the grace: no status-only stage, so "over" is reached right after the grace
  const s = spec({ statusRetention: '15m' });
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

describe('the end of a sale: drained, then one read-only gateway until endsAt + statusRetention', () => {
  const at = (t: string) => Date.parse(`2026-11-28T${t}Z`);

  it('stages after endsAt: draining for the grace, statusOnly until endsAt + 24h (the default), then over', () => {
    const s = spec();
    expect(s.statusRetention).toBe('24h');
    expect(saleSchedule(s, at('10:05:00'))).toMatchObject({ stage: 'draining', nextChangeInMs: 10 * 60_000 });
    const ro = saleSchedule(s, afterGrace);
    // the next boundary is endsAt + 24h: the reconcile is requeued for it
    expect(ro).toMatchObject({ stage: 'statusOnly', statusUntil: at('10:00:00') + 86_400_000 });
    expect(ro.nextChangeInMs).toBe(at('10:00:00') + 86_400_000 - afterGrace);
    expect(saleSchedule(s, at('10:00:00') + 86_400_000).stage).toBe('over');
  });

  it('statusOnly: one gateway, no autoscaler, no processor; over: nothing', () => {
    const s = spec();
    expect(replicaPlan(s, 'statusOnly')).toEqual({
      autoscaled: false,
      gateway: { replicas: 1, min: 1, max: 1 },
      processor: { replicas: 0, min: 0, max: 0 },
    });
    const fixed = spec({ autoscaling: { enabled: false }, gateway: { replicas: 6 } });
    expect(replicaPlan(fixed, 'statusOnly').gateway.replicas).toBe(1);
    expect(replicaPlan(s, 'over').gateway.replicas).toBe(0);
  });

  it('the processors are never stopped before the backlog is gone: the gate holds statusOnly as it holds over', () => {
    const s = spec();
    const held = drainGate(saleSchedule(s, afterGrace), { lag: 3, heldUnits: 1 });
    expect(held).toMatchObject({ stage: 'draining', waitingFor: 'consumer lag 3, 1 unit(s) held' });
    expect(replicaPlan(s, held.stage).processor.min).toBe(1);
    expect(drainGate(saleSchedule(s, afterGrace), { lag: 0, heldUnits: 0 }).stage).toBe('statusOnly');
  });

  it('a retention within the grace adds no stage: draining, then over', () => {
    const s = spec({ statusRetention: '10m' });
    expect(saleSchedule(s, at('10:12:00'))).toMatchObject({ stage: 'draining', nextChangeInMs: 3 * 60_000 });
    expect(saleSchedule(s, afterGrace).stage).toBe('over');
    expect(saleSchedule(spec({ statusRetention: '0s' }), afterGrace).stage).toBe('over');
  });

  it('statusRetention is at most 168h, how long an order record lives in Redis after its last write', () => {
    expect(ORDER_RECORD_TTL_SECONDS).toBe(168 * 3600);
    expect(parseFlashSaleSpec({ ...spec(), statusRetention: '168h' }).ok).toBe(true);
    const r = parseFlashSaleSpec({ ...spec(), statusRetention: '169h' });
    expect(r).toEqual({
      ok: false,
      problems: ['spec.statusRetention: must not exceed 168h, how long order records live in Redis'],
    });
    expect(parseFlashSaleSpec({ ...spec(), statusRetention: '1d' }).ok).toBe(false);
  });

  it('the status-only gateway runs GATEWAY_MODE=read-only; the sale-time gateway does not', () => {
    const input = {
      sale: { name: 'bf', namespace: 'shop', uid: 'u' },
      spec: spec(),
      defaults: { gatewayImage: 'i', processorImage: 'i', gatewayCommand: ['x'], processorCommand: ['x'] },
      replicas: 1,
      configHash: 'h',
    };
    const env = (d: Json) => d.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env(buildGatewayDeployment({ ...input, readOnly: true }))).toContainEqual({
      name: 'GATEWAY_MODE',
      value: 'read-only',
    });
    expect(env(buildGatewayDeployment(input)).map((e) => e.name)).not.toContain('GATEWAY_MODE');
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
