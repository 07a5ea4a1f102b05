/**
 * Least privilege, checked on what the operator and the chart really produce:
 * - the sale workloads (gateway, processor Deployments built by the operator): no API token mounted, non-root,
 *   read-only root filesystem, every capability dropped, no privilege escalation, seccomp RuntimeDefault, credentials
 *   only as Secret references (never values); and the API server's Pod Security Admission at level `restricted`
 *   (enforced, server-side dry run) admits their pods, while refusing a weakened copy (the check really bites);
 * - the operator (chart): RBAC without wildcards, impersonation, escalation or pod exec, Secrets `get` only; its pod
 *   hardened the same way; a NetworkPolicy around it.
 */
import { randomUUID } from 'node:crypto';
import { parseFlashSaleSpec } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayDeployment, buildProcessorDeployment } from '../../operator/src/builders/buildDeployments.ts';
import { buildNetworkPolicies, buildWorkloadServiceAccount } from '../../operator/src/builders/buildIsolation.ts';
import { kwokNamespace } from '../../tools/harness/src/index.ts';
import { find, type K8sObject, one, parseManifests, run, runOk, templateArgs } from '../packaging/support.ts';
import { requireService } from '../support/services.ts';

const parsed = parseFlashSaleSpec({
  startsAt: '2026-12-01T10:00:00Z',
  endsAt: '2026-12-01T11:00:00Z',
  items: [{ id: 'gpu', quantity: 10 }],
  redis: {
    addr: 'redis:6379',
    usernameSecretRef: { name: 'redis-creds', key: 'username' },
    passwordSecretRef: { name: 'redis-creds', key: 'password' },
    tls: { enabled: true, caSecretRef: { name: 'sale-ca', key: 'ca.pem' } },
  },
  kafka: {
    brokers: 'kafka:9093',
    sasl: {
      mechanism: 'scram-sha-512',
      usernameSecretRef: { name: 'kafka-creds', key: 'username' },
      passwordSecretRef: { name: 'kafka-creds', key: 'password' },
    },
    tls: { enabled: true },
  },
});
if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
const spec = parsed.spec;
const sale = { name: 'lp-sale', namespace: 'lp', uid: randomUUID() };
const input = {
  sale,
  spec,
  defaults: {
    gatewayImage: 'registry.example/flashsale:1.0.0',
    processorImage: 'registry.example/flashsale:1.0.0',
    gatewayCommand: ['node', 'gateway/src/main.ts'],
    processorCommand: ['node', 'processor/src/main.ts'],
  },
  replicas: 2,
  configHash: 'h',
};
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field
type Any = any;
const workloads: [string, Any][] = [
  ['gateway', buildGatewayDeployment(input)],
  ['processor', buildProcessorDeployment(input)],
];

describe('sale workloads (operator builders)', () => {
  for (const [name, d] of workloads) {
    it(`${name}: no API token, non-root, read-only root fs, caps dropped, seccomp, no escalation`, () => {
      const pod = d.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.hostPID ?? false).toBe(false);
      expect(pod.hostIPC ?? false).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.securityContext.privileged ?? false).toBe(false);
        expect(c.securityContext.capabilities.add ?? []).toEqual([]);
        // the only writable path is an emptyDir with a size limit; a Secret (the CA bundle) is mounted read-only
        for (const m of c.volumeMounts ?? []) {
          const v = pod.volumes.find((x: Any) => x.name === m.name);
          if (v?.secret) {
            expect(m.readOnly, `${m.name}`).toBe(true);
            expect(v.secret.defaultMode & 0o222, `${m.name}`).toBe(0);
          } else expect(v?.emptyDir?.sizeLimit, `${m.name}`).toBeTruthy();
        }
        expect(c.volumeMounts.find((m: Any) => m.name === 'redis-tls-ca')).toMatchObject({ readOnly: true });
      }
    });

    it(`${name}: credentials only as Secret references, never values`, () => {
      const env: Any[] = d.spec.template.spec.containers[0].env;
      const byName = new Map(env.map((e) => [e.name, e]));
      for (const [v, secret] of [
        ['REDIS_USERNAME', 'redis-creds'],
        ['REDIS_PASSWORD', 'redis-creds'],
        ['KAFKA_USERNAME', 'kafka-creds'],
        ['KAFKA_PASSWORD', 'kafka-creds'],
      ] as const) {
        const e = byName.get(v);
        expect(e, v).toBeDefined();
        expect(e.value, v).toBeUndefined();
        expect(e.valueFrom.secretKeyRef.name, v).toBe(secret);
      }
      expect(JSON.stringify(d)).not.toMatch(/password"\s*,\s*"value"/i);
      // the CA bundle is a file from the Secret; only its path is in the environment
      expect(byName.get('REDIS_TLS_CA_FILE')).toEqual({
        name: 'REDIS_TLS_CA_FILE',
        value: '/etc/flashsale/tls/redis/ca.crt',
      });
      expect(byName.has('KAFKA_TLS_CA_FILE')).toBe(false);
    });
  }
});

describe('sale workload identity and network (operator builders)', () => {
  const sa: Any = buildWorkloadServiceAccount(sale);
  const nps: Any[] = buildNetworkPolicies(sale, spec);

  it('a ServiceAccount of their own, without a token; both Deployments run under it', () => {
    expect(sa).toMatchObject({ kind: 'ServiceAccount', automountServiceAccountToken: false });
    for (const [, d] of workloads) expect(d.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  it('NetworkPolicies: gateway ingress on its HTTP port only, processor on metrics only; egress to DNS, Redis, Kafka', () => {
    const [gw, proc] = nps;
    for (const np of nps) {
      expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const egressPorts = np.spec.egress.flatMap((e: Any) => e.ports.map((p: Any) => `${p.protocol}/${p.port}`));
      expect(egressPorts.sort()).toEqual(['TCP/53', 'TCP/6379', 'TCP/9093', 'UDP/53']);
      expect(np.spec.egress.every((e: Any) => e.to === undefined || e.to.length > 0)).toBe(true);
    }
    expect(gw.spec.podSelector.matchLabels).toEqual(workloads[0]![1].spec.selector.matchLabels);
    expect(proc.spec.podSelector.matchLabels).toEqual(workloads[1]![1].spec.selector.matchLabels);
    expect(gw.spec.ingress).toEqual([{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
    expect(proc.spec.ingress).toEqual([{ ports: [{ port: 9090, protocol: 'TCP' }] }]);
  });
});

describe('Pod Security Admission "restricted" on the real API server', () => {
  const { kubectl, kubeconfig } = requireService('kube');
  const ns = `lp-${randomUUID().slice(0, 8)}`;
  const k = (args: string[], input?: string) =>
    run(kubectl, ['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });

  beforeAll(async () => {
    const nsObj = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        ...kwokNamespace(ns).metadata,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    };
    const r = await k(['apply', '-f', '-'], JSON.stringify(nsObj));
    if (r.code !== 0) throw new Error(r.stderr);
    // the workloads' ServiceAccount exists, as the operator creates it before their Deployments
    const sa = buildWorkloadServiceAccount(sale);
    const created = await k(
      ['create', '-f', '-'],
      JSON.stringify({ ...sa, metadata: { ...sa.metadata, namespace: ns, ownerReferences: undefined } }),
    );
    if (created.code !== 0) throw new Error(created.stderr);
  });
  afterAll(async () => {
    await k(['delete', 'namespace', ns, '--wait=false']);
  });

  const podOf = (d: Any, name: string, mutate: (p: Any) => void = () => {}) => {
    const p = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: d.spec.template.metadata.labels },
      spec: structuredClone(d.spec.template.spec),
    };
    mutate(p);
    return JSON.stringify(p);
  };

  it('accepts the NetworkPolicies (server-side dry run)', async () => {
    for (const o of buildNetworkPolicies(sale, spec)) {
      const obj = { ...o, metadata: { ...o.metadata, namespace: ns, ownerReferences: undefined } };
      const r = await k(['create', '--dry-run=server', '-f', '-'], JSON.stringify(obj));
      expect(r.code, `${o.kind}: ${r.stderr}`).toBe(0);
    }
  });

  for (const [name, d] of workloads) {
    it(`admits the ${name} pod and refuses it weakened (runAsNonRoot off, a capability added)`, async () => {
      const ok = await k(['create', '--dry-run=server', '-f', '-'], podOf(d, `${name}-ok`));
      expect(ok.code, ok.stderr).toBe(0);
      const weak = await k(
        ['create', '--dry-run=server', '-f', '-'],
        podOf(d, `${name}-weak`, (p) => {
          delete p.spec.securityContext.runAsNonRoot;
          delete p.spec.containers[0].securityContext.runAsNonRoot;
          p.spec.containers[0].securityContext.capabilities = { add: ['NET_ADMIN'] };
        }),
      );
      expect(weak.code).not.toBe(0);
      expect(weak.stderr).toMatch(/violates PodSecurity "restricted/);
    }, 30_000);
  }
});

describe('the operator (chart)', () => {
  const { helm } = requireService('kube');
  let objs: K8sObject[] = [];
  beforeAll(async () => {
    objs = parseManifests(await runOk(helm, templateArgs('rel', 'fs-system', {})));
  });

  it('RBAC: no wildcard, no escalate/bind/impersonate, no pod exec or node access, Secrets get only', () => {
    const roles = [...find(objs, 'ClusterRole'), ...find(objs, 'Role')];
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
        const where = `${role.kind}/${role.metadata.name} ${JSON.stringify(rule)}`;
        expect(rule.verbs, where).not.toContain('*');
        expect(rule.resources, where).not.toContain('*');
        expect(rule.apiGroups, where).not.toContain('*');
        for (const v of ['escalate', 'bind', 'impersonate']) expect(rule.verbs, where).not.toContain(v);
        for (const r of ['pods/exec', 'pods/attach', 'nodes', 'nodes/proxy', 'serviceaccounts/token']) {
          expect(rule.resources, where).not.toContain(r);
        }
        if (rule.resources.includes('secrets')) expect(rule.verbs, where).toEqual(['get']);
        if (rule.resources.some((r) => r.startsWith('roles') || r.startsWith('clusterroles'))) {
          throw new Error(`the operator may change RBAC: ${where}`);
        }
      }
    }
  });

  it('its pod is hardened and, with networkPolicy.enabled, a NetworkPolicy surrounds it', async () => {
    const d = one(objs, 'Deployment');
    const pod = d.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
    const withNp = parseManifests(
      await runOk(helm, templateArgs('rel', 'fs-system', {}, ['--set', 'networkPolicy.enabled=true'])),
    );
    const np = find(withNp, 'NetworkPolicy');
    expect(np.length).toBeGreaterThan(0);
    expect(np[0]!.spec.policyTypes).toEqual(expect.arrayContaining(['Ingress', 'Egress']));
  });
});
