import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';

const run = promisify(execFile);

describe('kubectl and helm against the local cluster', () => {
  const { kubeconfig, kubectl, helm } = requireService('kube');
  const env = { ...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: join(tmpdir(), 'fse-helm-cache') };
  const id = randomUUID().slice(0, 8);
  const namespace = `t-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'fse-helm-'));
  afterAll(async () => {
    await run(kubectl, ['delete', 'namespace', namespace, '--wait=false'], { env }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('helm version and kubectl version answer', async () => {
    const h = await run(helm, ['version', '--short'], { env });
    expect(h.stdout).toMatch(/^v[34]\.\d+\.\d+/);
    const k = await run(kubectl, ['version', '-o', 'json'], { env });
    const v = JSON.parse(k.stdout) as { serverVersion?: { gitVersion: string } };
    expect(v.serverVersion?.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  it('helm installs and uninstalls a chart', async () => {
    const chart = join(dir, 'smoke');
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\nversion: 0.1.0\n');
    writeFileSync(join(chart, 'values.yaml'), 'greeting: hello\n');
    writeFileSync(
      join(chart, 'templates', 'configmap.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n',
    );
    await run(
      helm,
      ['install', 'smoke', chart, '-n', namespace, '--create-namespace', '--set', 'greeting=hi', '--wait'],
      {
        env,
      },
    );
    const cm = await run(
      kubectl,
      ['get', 'configmap', 'smoke-cm', '-n', namespace, '-o', 'jsonpath={.data.greeting}'],
      {
        env,
      },
    );
    expect(cm.stdout).toBe('hi');
    await run(helm, ['uninstall', 'smoke', '-n', namespace, '--wait'], { env });
  });
});
