/**
 * The real node of the harness: pods of an imported image run on it (not on kwok), `kubectl logs` and `kubectl exec`
 * reach them through the API server and the kubelet, CoreDNS resolves Service names inside pods, kube-proxy makes a
 * ClusterIP Service answer from pods and from this machine, pod IPs answer from this machine, and a pod reaches the API
 * server through the `kubernetes` Service with its ServiceAccount token, verifying TLS with kube-root-ca.crt. Every
 * address used is this machine's, a pod's or a Service's.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../tools/harness/src/proc.ts';
import { eventually, requireService } from '../support/services.ts';

const IMAGE = 'ghcr.io/flash-sale-engine/flash-sale-engine:0.1.0';

/** An HTTP server on 8080 that names its pod; the product image's Node runs it (tini stays PID 1). */
const SERVER = `require('http').createServer((q, s) => s.end('hello from ' + require('os').hostname()))
  .listen(8080, () => console.log('web listening on 8080'));`;

/** GET over plain HTTP from this machine; resolves with the body. */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => {
        body += b.toString();
      });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('real node (kubelet + containerd + kube-proxy + CoreDNS)', () => {
  const kube = requireService('kube');
  const node = requireService('node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const ns = `node-${randomUUID().slice(0, 8)}`;
  const labels = { app: 'web' };
  const kubectl = async (args: string[]) => {
    const r = await run(kube.kubectl, [`--kubeconfig=${kube.kubeconfig}`, '-n', ns, ...args], { check: false });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr} ${r.stdout}`.trim());
    return r.stdout;
  };
  /** `node -e <script>` inside a pod of the Deployment */
  const inPod = (pod: string, script: string) => kubectl(['exec', pod, '--', 'node', '-e', script]);
  let pods: k8s.V1Pod[] = [];
  let clusterIP = '';

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web', labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              // the kwok node also exists: these pods must run for real
              nodeSelector: { 'kubernetes.io/hostname': node.name },
              containers: [
                {
                  name: 'web',
                  image: IMAGE,
                  imagePullPolicy: 'IfNotPresent',
                  args: ['node', '-e', SERVER],
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
                },
              ],
            },
          },
        },
      },
    });
    const svc = await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    clusterIP = svc.spec?.clusterIP ?? '';
    await eventually(
      'deployment web to have 2 ready replicas on the real node',
      async () => (await apps.readNamespacedDeployment({ name: 'web', namespace: ns })).status?.readyReplicas === 2,
      120_000,
    ).catch(async (e) => {
      const events = await kubectl(['get', 'events', '--sort-by=.lastTimestamp']).catch(() => '');
      throw new Error(`${(e as Error).message}\n${events}`);
    });
    pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items;
  }, 180_000);

  afterAll(async () => {
    await core.deleteNamespace({ name: ns }).catch(() => {});
  });

  it('runs the pods on the real node, with addresses from its pod CIDR and the image imported', () => {
    expect(node.images).toContain(IMAGE);
    expect(pods).toHaveLength(2);
    const prefix = node.podCidr.split('.').slice(0, 3).join('.');
    for (const p of pods) {
      expect(p.spec?.nodeName).toBe(node.name);
      expect(p.status?.podIP?.startsWith(`${prefix}.`)).toBe(true);
      expect(p.status?.hostIP).toBe(node.ip);
    }
    expect(clusterIP.startsWith(node.serviceCidr.split('.').slice(0, 3).join('.'))).toBe(true);
  });

  it('serves kubectl logs and kubectl exec through the kubelet', async () => {
    const pod = pods[0]?.metadata?.name ?? '';
    expect(await kubectl(['logs', pod])).toContain('web listening on 8080');
    expect((await kubectl(['exec', pod, '--', 'node', '-p', 'process.getuid()'])).trim()).toBe('10001');
  });

  it('resolves a Service name with CoreDNS inside a pod and reaches the Service (and nothing outside)', async () => {
    const pod = pods[1]?.metadata?.name ?? '';
    const fqdn = `web.${ns}.svc.cluster.local`;
    const resolved = await inPod(pod, `require('dns').promises.lookup('${fqdn}').then((a) => console.log(a.address))`);
    expect(resolved.trim()).toBe(clusterIP);
    // the short name through the pod's search path; kube-proxy programs the new Service's rules a moment after the
    // Service exists (a CI run connected before it had: "fetch failed"), so the connection is waited for, not the clock
    const viaService = await eventually('the Service to answer a pod by its short name', () =>
      inPod(
        pod,
        `fetch('http://web/').then((r) => r.text()).then((t) => console.log(t), (e) => { console.log(String(e)); process.exit(1); })`,
      ),
    );
    expect(viaService).toMatch(/^hello from web-/);
    // names outside cluster.local are not forwarded anywhere: CoreDNS refuses them
    const outside = await inPod(
      pod,
      `require('dns').promises.lookup('example.com').then((a) => console.log('resolved ' + a.address), (e) => console.log(e.code))`,
    );
    expect(outside.trim()).not.toMatch(/^resolved/);
  });

  it('answers on the ClusterIP (kube-proxy) and on each pod IP from this machine', async () => {
    expect(await eventually('the ClusterIP to answer', () => httpGet(`http://${clusterIP}/`))).toMatch(
      /^hello from web-/,
    );
    for (const p of pods) {
      expect(await httpGet(`http://${p.status?.podIP}:8080/`)).toBe(`hello from ${p.metadata?.name}`);
    }
  });

  it('reaches the API server from a pod through the kubernetes Service, TLS verified with kube-root-ca.crt', async () => {
    const pod = pods[0]?.metadata?.name ?? '';
    // SelfSubjectReview: who the API server takes the pod's token for (any authenticated user may ask)
    const script = `
      const fs = require('fs'); const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
      const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
      const req = require('https').request('https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        method: 'POST', ca: fs.readFileSync(sa + 'ca.crt'),
        headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8'), 'content-type': 'application/json' },
      }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, JSON.parse(b).status.userInfo.username)); });
      req.on('error', (e) => { console.log('error', e.code || e.message); process.exit(1); });
      req.end(body);`;
    expect((await inPod(pod, script)).trim()).toBe(`201 system:serviceaccount:${ns}:default`);
  });
});
