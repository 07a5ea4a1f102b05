import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kwokNamespace } from '../../tools/harness/src/index.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';

describe('kubernetes control plane (API server + controllers + kwok)', () => {
  const { kubeconfig } = requireService('kube');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const id = randomUUID().slice(0, 8);
  const namespace = `t-${id}`;
  const group = `smoke-${id}.fse.local`;
  const plural = 'widgets';
  const crdName = `${plural}.${group}`;

  beforeAll(async () => {
    await core.createNamespace({ body: kwokNamespace(namespace) });
  });
  afterAll(async () => {
    await ext.deleteCustomResourceDefinition({ name: crdName }).catch(() => {});
    await core.deleteNamespace({ name: namespace }).catch(() => {});
  });

  it('accepts a CRD with a CEL rule, a valid custom object, and refuses an invalid one', async () => {
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: crdName },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      required: ['minReplicas', 'maxReplicas'],
                      properties: { minReplicas: { type: 'integer' }, maxReplicas: { type: 'integer' } },
                      x_kubernetes_validations: [
                        {
                          rule: 'self.minReplicas <= self.maxReplicas',
                          message: 'minReplicas must not exceed maxReplicas',
                        },
                      ],
                    },
                  },
                },
              },
            },
          ],
        },
      },
    });
    await eventually('the CRD to be Established', async () => {
      const crd = await ext.readCustomResourceDefinition({ name: crdName });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
    const obj = (name: string, min: number, max: number) => ({
      apiVersion: `${group}/v1`,
      kind: 'Widget',
      metadata: { name },
      spec: { minReplicas: min, maxReplicas: max },
    });
    // discovery of a fresh CRD can lag a moment behind Established
    await eventually('a valid Widget to be created', () =>
      custom.createNamespacedCustomObject({ group, version: 'v1', namespace, plural, body: obj('good', 1, 3) }),
    );
    const got = (await custom.getNamespacedCustomObject({ group, version: 'v1', namespace, plural, name: 'good' })) as {
      spec: { maxReplicas: number };
    };
    expect(got.spec.maxReplicas).toBe(3);

    const refused = await custom
      .createNamespacedCustomObject({ group, version: 'v1', namespace, plural, body: obj('bad', 5, 2) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<string>).code).toBe(422);
    expect(String((refused as k8s.ApiException<string>).body)).toContain('minReplicas must not exceed maxReplicas');
  });

  it('runs a Deployment to Available on the kwok node', async () => {
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1', ports: [{ containerPort: 8080 }] }] },
          },
        },
      },
    });
    const dep = await eventually(
      'deployment web to be Available with 2 ready replicas',
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
        const available = d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
        return available && d.status?.readyReplicas === 2 ? d : undefined;
      },
      45_000,
    );
    expect(dep.status?.availableReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
    expect(pods.items.map((p) => p.status?.phase)).toEqual(['Running', 'Running']);
  });

  it('has the Prometheus Operator CRDs (PrometheusRule, ServiceMonitor)', async () => {
    for (const name of ['prometheusrules.monitoring.coreos.com', 'servicemonitors.monitoring.coreos.com']) {
      const crd = await ext.readCustomResourceDefinition({ name });
      expect(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')).toBe(true);
    }
  });
});
