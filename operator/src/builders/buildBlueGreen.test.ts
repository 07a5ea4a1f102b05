import { flashSaleSpecSchema } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from './buildAutoscalers.ts';
import {
  activeSelection,
  buildActiveService,
  buildColourDeployment,
  buildPreviewService,
  gatewayTemplateHash,
  sharesLiveTraffic,
} from './buildBlueGreen.ts';
import { buildGatewayDeployment } from './buildDeployments.ts';
import { buildServiceMonitor } from './buildMonitoring.ts';
import { replicaPlan } from './schedule.ts';

const sale = { name: 'demo', namespace: 'shop', uid: 'u1' };
const defaults = {
  gatewayImage: 'img:1',
  processorImage: 'img:1',
  gatewayCommand: ['node', 'gateway/src/main.ts'],
  processorCommand: ['node', 'processor/src/main.ts'],
};
const spec = (image?: string) =>
  flashSaleSpecSchema.parse({
    startsAt: '2026-11-28T08:00:00Z',
    endsAt: '2026-11-28T10:00:00Z',
    items: [{ id: 'a', quantity: 1 }],
    gateway: image ? { image } : {},
    upgradeStrategy: { type: 'BlueGreen' },
  });
const base = (image?: string, configHash = 'c1') =>
  buildGatewayDeployment({ sale, spec: spec(image), defaults, replicas: undefined, configHash });

describe('blue-green builders', () => {
  it('hash the pod template: stable, and changed by the image or the config', () => {
    expect(gatewayTemplateHash(base())).toBe(gatewayTemplateHash(base()));
    expect(gatewayTemplateHash(base('img:2'))).not.toBe(gatewayTemplateHash(base()));
    expect(gatewayTemplateHash(base(undefined, 'c2'))).not.toBe(gatewayTemplateHash(base()));
  });
  it('colour Deployments select and label their colour, record the hash, carry replicas only when given', () => {
    const d = buildColourDeployment(base(), sale, 'green', 'h1', 3);
    expect(d.metadata.name).toBe('demo-gateway-green');
    expect(d.metadata.annotations['flashsale.dev/template-hash']).toBe('h1');
    expect(d.spec.selector.matchLabels).toEqual({
      'flashsale.dev/sale': 'demo',
      'app.kubernetes.io/component': 'gateway',
      'flashsale.dev/colour': 'green',
    });
    expect(d.spec.template.metadata.labels['flashsale.dev/colour']).toBe('green');
    expect((d.spec as { replicas?: number }).replicas).toBe(3);
    expect('replicas' in buildColourDeployment(base(), sale, 'blue', 'h1', undefined).spec).toBe(false);
  });
  it('the active Service selects the active colour (or every gateway pod while migrating), the preview the other', () => {
    expect(buildActiveService(sale, spec(), 'blue').spec.selector['flashsale.dev/colour']).toBe('blue');
    expect(buildActiveService(sale, spec(), undefined).spec.selector).not.toHaveProperty('flashsale.dev/colour');
    const p = buildPreviewService(sale, spec(), 'green');
    expect(p.metadata.name).toBe('demo-gateway-preview');
    expect(p.spec.selector['flashsale.dev/colour']).toBe('green');
  });
  it('a preview shares live traffic only while it is analysed with previewTraffic Shared (the default)', () => {
    const analysis = (previewTraffic?: 'Shared' | 'None') =>
      flashSaleSpecSchema.parse({
        startsAt: '2026-11-28T08:00:00Z',
        endsAt: '2026-11-28T10:00:00Z',
        items: [{ id: 'a', quantity: 1 }],
        upgradeStrategy: {
          type: 'BlueGreen',
          analysis: { prometheusUrl: 'http://prom:9090', ...(previewTraffic ? { previewTraffic } : {}) },
        },
      }).upgradeStrategy.analysis;
    const shared = analysis();
    expect(shared?.previewTraffic).toBe('Shared');
    const analysing = { activeColour: 'blue' as const, phase: 'Progressing' as const, step: 'Analysis' };
    expect(sharesLiveTraffic(analysing, shared)).toBe(true);
    // every gateway pod of both colours while analysed; one colour in every other step
    expect(activeSelection(analysing, { legacyServing: false, analysis: shared })).toBeUndefined();
    for (const other of [
      { phase: 'Progressing' as const, step: 'Preview' },
      { phase: 'Paused' as const, step: 'Paused' },
      { phase: 'Aborted' as const, step: 'Aborted' },
      { phase: 'Promoted' as const, step: 'ScaleDown' },
    ]) {
      expect(activeSelection({ activeColour: 'blue', ...other }, { legacyServing: false, analysis: shared })).toBe(
        'blue',
      );
    }
    expect(activeSelection(analysing, { legacyServing: false, analysis: analysis('None') })).toBe('blue');
    expect(activeSelection(analysing, { legacyServing: false, analysis: undefined })).toBe('blue');
    // migrating from Rolling: every gateway pod until the colour serves
    expect(
      activeSelection({ activeColour: 'blue', phase: 'Promoted' }, { legacyServing: true, analysis: shared }),
    ).toBe(undefined);
  });
  it('both gateway Services carry the sale label the ServiceMonitor selects: the preview pods are scraped under the preview Service', () => {
    const monitor = buildServiceMonitor(sale, spec());
    const selected = (labels: Record<string, string>) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => labels[k] === v);
    expect(selected(buildPreviewService(sale, spec(), 'green').metadata.labels)).toBe(true);
    expect(selected(buildActiveService(sale, spec(), undefined).metadata.labels)).toBe(true);
    expect(monitor.spec.endpoints.map((e) => e.port)).toContain(
      buildPreviewService(sale, spec(), 'green').spec.ports[0]?.name,
    );
  });
  it('the gateway autoscaler (HPA or KEDA) targets the given colour; the processor one is unchanged', () => {
    const plan = replicaPlan(spec(), 'live');
    const [gw, proc] = buildHorizontalPodAutoscalers(sale, spec(), plan, 'demo-gateway-green');
    expect(gw?.spec.scaleTargetRef.name).toBe('demo-gateway-green');
    expect(proc?.spec.scaleTargetRef.name).toBe('demo-processor');
    const [so] = buildScaledObjects(sale, spec(), plan, 'demo-gateway-blue');
    expect(so?.spec.scaleTargetRef.name).toBe('demo-gateway-blue');
    expect(buildHorizontalPodAutoscalers(sale, spec(), plan)[0]?.spec.scaleTargetRef.name).toBe('demo-gateway');
  });
});
