/** The gateway Deployment's client-IP trust and buyer identity (spec.gateway.trustedProxies and .identity). */
import { flashSaleSpecSchema } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { buildGatewayDeployment } from './buildDeployments.ts';

const sale = { name: 'bf', namespace: 'shop', uid: 'uid-1' };
const defaults = {
  gatewayImage: 'img/gw:1',
  processorImage: 'img/proc:1',
  gatewayCommand: ['node', 'gateway/src/main.ts'],
  processorCommand: ['node', 'processor/src/main.ts'],
};

describe('buildGatewayDeployment', () => {
  it('trusted proxies and the JWT identity from the spec, the key as a Secret reference (never copied)', () => {
    const jwt = { issuer: 'https://idp/', audience: 'shop', publicKeySecretRef: { name: 'idp', key: 'key.pem' } };
    const spec = flashSaleSpecSchema.parse({
      startsAt: '2026-11-28T08:00:00Z',
      endsAt: '2026-11-28T10:00:00Z',
      items: [{ id: 'a', quantity: 10 }],
      gateway: { trustedProxies: ['10.0.0.0/8'], identity: { source: 'jwt', jwt } },
    });
    const d = buildGatewayDeployment({ sale, spec, defaults, replicas: undefined, configHash: 'h' });
    const env = d.spec.template.spec.containers[0]?.env;
    expect(env).toContainEqual({ name: 'TRUSTED_PROXIES', value: '10.0.0.0/8' });
    expect(env).toContainEqual({ name: 'IDENTITY_SOURCE', value: 'jwt' });
    expect(env).toContainEqual({ name: 'JWT_ISSUER', value: 'https://idp/' });
    expect(env).toContainEqual({
      name: 'JWT_PUBLIC_KEY',
      valueFrom: { secretKeyRef: { name: 'idp', key: 'key.pem' } },
    });
  });
});
