/**
 * The contract between the operator and the programs it deploys: the environment the operator gives the gateway and
 * processor containers (ConfigMap via envFrom, plus per-container env) must pass their own start-up validation, and
 * carry the spec's values. A renamed variable on either side fails here, not in a cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flashSaleManifestSchema } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig as loadGatewayConfig } from '../../gateway/src/config.ts';
import { buildConfigMap } from '../../operator/src/builders/buildConfigMap.ts';
import { buildGatewayDeployment, buildProcessorDeployment } from '../../operator/src/builders/buildDeployments.ts';
import { loadConfig as loadProcessorConfig } from '../../processor/src/config.ts';

const root = join(import.meta.dirname, '../..');
const manifest = flashSaleManifestSchema.parse(parse(readFileSync(join(root, 'examples/flashsale.yaml'), 'utf8')));
const sale = { name: manifest.metadata.name, namespace: 'shop', uid: 'u' };
const defaults = { gatewayImage: 'i', processorImage: 'i', gatewayCommand: ['x'], processorCommand: ['x'] };

type Container = { env: { name: string; value?: string; valueFrom?: unknown }[] };

/** What the container sees: the ConfigMap's keys, then its own env (Secrets resolved to a placeholder). */
function containerEnv(spec: typeof manifest.spec, c: Container): Record<string, string> {
  const env: Record<string, string> = { ...buildConfigMap(sale, spec).data };
  for (const e of c.env) env[e.name] = e.value ?? 'secret-value';
  return env;
}

describe('operator -> gateway/processor environment', () => {
  it('the gateway starts with the environment the operator gives it, with the spec values', () => {
    const spec = { ...manifest.spec, redis: { ...manifest.spec.redis, passwordSecretRef: { name: 's', key: 'k' } } };
    const d = buildGatewayDeployment({ sale, spec, defaults, replicas: undefined, configHash: 'h' });
    const cfg = loadGatewayConfig(containerEnv(spec, d.spec.template.spec.containers[0] as Container));
    expect(cfg.sale).toEqual({
      name: 'black-friday',
      startsAt: Date.parse(spec.startsAt),
      endsAt: Date.parse(spec.endsAt),
    });
    expect(cfg.port).toBe(8080);
    expect(cfg.redis.nodes).toEqual([{ host: 'redis-service', port: 6379 }]);
    expect(cfg.redis.password).toBe('secret-value');
    expect(cfg.kafka.brokers).toEqual(['kafka-service:9092']);
    expect(cfg.breaker).toMatchObject({ failureThreshold: 5, baseTimeoutMs: 30_000, maxTimeoutMs: 300_000 });
    expect(cfg.rateLimit.orderUser.capacity).toBe(60);
  });

  it('the read-only gateway of the status-only stage starts in read-only mode (the end of a sale)', () => {
    const spec = manifest.spec;
    const d = buildGatewayDeployment({ sale, spec, defaults, replicas: 1, configHash: 'h', readOnly: true });
    const cfg = loadGatewayConfig(containerEnv(spec, d.spec.template.spec.containers[0] as Container));
    expect(cfg.mode).toBe('read-only');
    const live = buildGatewayDeployment({ sale, spec, defaults, replicas: undefined, configHash: 'h' });
    expect(loadGatewayConfig(containerEnv(spec, live.spec.template.spec.containers[0] as Container)).mode).toBe(
      'orders',
    );
  });

  it("the gateway starts with the spec's trusted proxies and each identity source (issue 18, points 1 and 7)", () => {
    const start = (gateway: Record<string, unknown>) => {
      const spec = { ...manifest.spec, gateway: { ...manifest.spec.gateway, ...gateway } };
      const d = buildGatewayDeployment({ sale, spec, defaults, replicas: undefined, configHash: 'h' });
      return loadGatewayConfig(containerEnv(spec, d.spec.template.spec.containers[0] as Container));
    };
    expect(start({}).trustedProxies).toEqual(manifest.spec.gateway.trustedProxies);
    expect(start({}).identity).toEqual({ source: 'body' });
    const header = { source: 'header', header: 'X-Auth-Request-User' };
    expect(start({ identity: header }).identity).toEqual(header);
    const jwt = {
      issuer: 'https://idp/',
      audience: 'shop',
      jwksUrl: 'https://idp/jwks',
      userClaim: 'sub',
      clockTolerance: '5s',
    };
    expect(start({ identity: { source: 'jwt', header: 'X-Authenticated-User', jwt } }).identity).toMatchObject({
      source: 'jwt',
      jwt: { issuer: 'https://idp/', audience: 'shop', jwksUrl: 'https://idp/jwks', clockToleranceMs: 5000 },
    });
  });

  it('the processor starts with the environment the operator gives it, with the spec values', () => {
    const spec = manifest.spec;
    const d = buildProcessorDeployment({ sale, spec, defaults, replicas: 1, configHash: 'h' });
    const cfg = loadProcessorConfig(
      containerEnv(spec, d.spec.template.spec.containers[0] as Container),
    ) as unknown as Record<string, unknown>;
    expect(cfg).toMatchObject({ holdTtlMs: 300_000 });
    expect(JSON.stringify(cfg)).toContain('black-friday');
    expect((cfg.payment as { failureRate: number }).failureRate).toBe(0.1);
  });
});
