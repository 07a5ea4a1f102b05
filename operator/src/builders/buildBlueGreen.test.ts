import { flashSaleSpecSchema } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from './buildAutoscalers.ts';
import {
  buildActiveService,
  buildColourDeployment,
  buildPreviewService,
  gatewayTemplateHash,
} from './buildBlueGreen.ts';
import { buildGatewayDeployment } from './buildDeployments.ts';
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
