import { type FlashSaleSpec, flashSaleSpecSchema, parseFlashSaleSpec } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { CONFIG_HASH_ANNOTATION, LABELS } from '../api/types.ts';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from './buildAutoscalers.ts';
import { buildConfigMap } from './buildConfigMap.ts';
import { buildGatewayDeployment, buildProcessorDeployment } from './buildDeployments.ts';
import { buildDisruptionBudgets } from './buildDisruptionBudgets.ts';
import { buildPrometheusRule, buildServiceMonitor } from './buildMonitoring.ts';
import { buildGatewayService } from './buildServices.ts';
import { replicaPlan, saleSchedule } from './schedule.ts';

// biome-ignore lint/suspicious/noExplicitAny: asserting on built JSON
type Json = any;
const sale = { name: 'bf', namespace: 'shop', uid: 'uid-1' };
const defaults = {
  gatewayImage: 'img/gw:1',
  processorImage: 'img/proc:1',
  gatewayCommand: ['node', 'gateway/src/main.ts'],
  processorCommand: ['node', 'processor/src/main.ts'],
};
const spec = (over: Record<string, unknown> = {}): FlashSaleSpec =>
  flashSaleSpecSchema.parse({
    startsAt: '2026-11-28T08:00:00Z',
    endsAt: '2026-11-28T10:00:00Z',
    items: [{ id: 'a', quantity: 10 }],
    ...over,
  });
const T = (iso: string) => Date.parse(iso);

describe('spec parsing', () => {
  it('fills defaults and refuses what the CEL rules refuse, with readable paths', () => {
    const s = spec();
    expect(s.deletionPolicy).toBe('Retain');
    expect(s.topics.partitions).toBe(12);
    expect(s.gateway.rateLimit.maxRequests).toBe(60);
    const bad = parseFlashSaleSpec({
      startsAt: '2026-11-28T10:00:00Z',
      endsAt: '2026-11-28T08:00:00Z',
      items: [
        { id: 'a', quantity: 1 },
        { id: 'a', quantity: 2 },
      ],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.join('\n')).toMatch(/spec\.endsAt: endsAt must be after startsAt/);
      expect(bad.problems.join('\n')).toMatch(/item ids must be unique/);
    }
  });
});

describe('schedule and replica plan', () => {
  const s = spec({ autoscaling: { preScale: { lead: '10m' }, scaleDownGrace: '15m' } });
  it('moves cold -> warm -> live -> draining -> statusOnly -> over', () => {
    expect(saleSchedule(s, T('2026-11-28T07:00:00Z')).stage).toBe('cold');
    expect(saleSchedule(s, T('2026-11-28T07:55:00Z')).stage).toBe('warm');
    expect(saleSchedule(s, T('2026-11-28T08:00:00Z')).stage).toBe('live');
    expect(saleSchedule(s, T('2026-11-28T10:05:00Z')).stage).toBe('draining');
    expect(saleSchedule(s, T('2026-11-28T10:15:00Z')).stage).toBe('statusOnly');
    expect(saleSchedule(s, T('2026-11-29T10:00:00Z')).stage).toBe('over');
    expect(saleSchedule(s, T('2026-11-28T07:00:00Z')).nextChangeInMs).toBe(50 * 60_000);
  });
  it('pre-scales before the start, caps the processor at the partitions, scales to zero when over', () => {
    const p = spec({ topics: { partitions: 3 }, autoscaling: { processor: { minReplicas: 1, maxReplicas: 8 } } });
    expect(replicaPlan(p, 'cold').gateway.min).toBe(1);
    expect(replicaPlan(p, 'warm').gateway.min).toBe(5); // max(min 2, ceil(10/2))
    expect(replicaPlan(p, 'warm').processor.min).toBe(3);
    expect(replicaPlan(p, 'live').processor.max).toBe(3);
    expect(replicaPlan(p, 'live').gateway).toEqual({ replicas: 2, min: 2, max: 10 });
    expect(replicaPlan(p, 'over')).toMatchObject({
      autoscaled: false,
      gateway: { replicas: 0 },
      processor: { replicas: 0 },
    });
    const fixed = spec({ autoscaling: { enabled: false }, processor: { replicas: 9 }, topics: { partitions: 4 } });
    expect(replicaPlan(fixed, 'live')).toMatchObject({ autoscaled: false, processor: { replicas: 4 } });
  });
});

describe('builders', () => {
  it('gateway Deployment: owner ref, restricted security, probes, env, no replicas when autoscaled', () => {
    const s = spec({
      gateway: {
        env: [
          { name: 'RATE_LIMIT_MAX_REQUESTS', value: '5' },
          { name: 'X', value: 'y' },
        ],
      },
    });
    const d = buildGatewayDeployment({ sale, spec: s, defaults, replicas: undefined, configHash: 'h1' });
    expect(d.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'flashsale.dev/v1alpha1',
        kind: 'FlashSale',
        name: 'bf',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect('replicas' in d.spec).toBe(false);
    const pod = d.spec.template.spec;
    const c = pod.containers[0] as Json;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.lifecycle.preStop.sleep.seconds).toBe(5);
    expect(c.image).toBe('img/gw:1');
    const env = Object.fromEntries((c.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ PORT: '8080', RATE_LIMIT_MAX_REQUESTS: '5', X: 'y', RATE_LIMIT_WINDOW: '1m' });
    expect((c.env as { name: string }[]).filter((e) => e.name === 'RATE_LIMIT_MAX_REQUESTS')).toHaveLength(1);
    expect(d.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe('h1');
    expect(d.spec.selector.matchLabels).toEqual({ [LABELS.sale]: 'bf', [LABELS.component]: 'gateway' });
  });

  it('processor Deployment: fixed replicas when given, startup, /livez and /ready probes, rolling with maxUnavailable 0, secret env', () => {
    const s = spec({ redis: { passwordSecretRef: { name: 'r', key: 'pw' } }, processor: { image: 'mine:2' } });
    const d = buildProcessorDeployment({ sale, spec: s, defaults, replicas: 3, configHash: 'h' });
    expect(d.spec).toMatchObject({ replicas: 3, strategy: { rollingUpdate: { maxUnavailable: 0 } } });
    const c = d.spec.template.spec.containers[0] as Json;
    expect(c.image).toBe('mine:2');
    // liveness is the process alone, readiness its dependencies (a Redis outage: unready, not restarted)
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'metrics' });
    // as long to start as the gateway (120 s) before liveness counts: on a busy node a processor killed by liveness
    // before it listened was killed again on every restart
    for (const part of [
      c,
      buildGatewayDeployment({ sale, spec: s, defaults, replicas: undefined, configHash: 'h' }).spec.template.spec
        .containers[0] as Json,
    ]) {
      expect(part.startupProbe.httpGet.path).toBe('/livez');
      expect(part.startupProbe.periodSeconds * part.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);
    }
    expect(c.env).toContainEqual({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'r', key: 'pw' } } });
    expect(c.env).toContainEqual({ name: 'HOLD_TTL', value: '5m' });
  });

  it('ConfigMap carries the shared environment; Service and PDBs select the right pods', () => {
    const s = spec();
    expect(buildConfigMap(sale, s).data).toMatchObject({
      SALE_NAME: 'bf',
      SALE_STARTS_AT: '2026-11-28T08:00:00Z',
      REDIS_ADDR: 'redis-service:6379',
      KAFKA_ADDR: 'kafka-service:9092',
      ENSURE_TOPICS: 'false',
    });
    expect(buildGatewayService(sale, s).spec.selector).toEqual({ [LABELS.sale]: 'bf', [LABELS.component]: 'gateway' });
    expect(buildDisruptionBudgets(sale).map((p) => p.spec.maxUnavailable)).toEqual([1, 1]);
  });

  it('HPAs: autoscaling/v2, processor max capped at partitions; KEDA ScaledObjects with Prometheus triggers', () => {
    const s = spec({ topics: { partitions: 2 } });
    const plan = replicaPlan(s, 'live');
    const [g, p] = buildHorizontalPodAutoscalers(sale, s, plan);
    expect(g?.apiVersion).toBe('autoscaling/v2');
    expect(g?.spec.metrics.map((m) => m.type)).toEqual(['Resource', 'Pods']);
    expect(p?.spec.maxReplicas).toBe(2);
    expect(p?.spec.metrics[0]?.type).toBe('External');
    const [kg, kp] = buildScaledObjects(sale, s, plan);
    expect(kg?.spec.triggers.map((t) => t.type)).toEqual(['cpu', 'prometheus']);
    expect(kp?.spec.maxReplicaCount).toBe(2);
  });

  it('PrometheusRule has the runbook alerts filtered to the sale; ServiceMonitor adds the sale label', () => {
    const s = spec({ monitoring: { labels: { release: 'kps' }, alerts: { dlqSize: 7 } } });
    const rule = buildPrometheusRule(sale, s);
    expect(rule.metadata.labels.release).toBe('kps');
    const alerts = rule.spec.groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining(['FlashSaleCircuitBreakerOpen', 'FlashSaleDLQSizeHigh', 'FlashSaleInventoryLow']),
    );
    expect(alerts.find((a) => a.alert === 'FlashSaleDLQSizeHigh')?.expr).toMatch(/> 7/);
    for (const a of alerts) expect(a.expr).toContain('sale="bf"');
    const sm = buildServiceMonitor(sale, s);
    expect(sm.spec.endpoints[0]?.relabelings[0]?.targetLabel).toBe('sale');
  });
});
