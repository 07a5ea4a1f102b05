/** Prometheus and promtool from Debian's `prometheus` package, with a minimal config (it scrapes itself). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureApt } from '../install.ts';
import { HOST, logFile, ports, serviceDir } from '../paths.ts';
import { assertPortsFree, spawnDaemon, waitFor, which } from '../proc.ts';
import type { NativeService } from './service.ts';

async function ready(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

export const prometheus: NativeService<'prometheus'> = {
  name: 'prometheus',
  install: () => ensureApt({ prometheus: 'prometheus', promtool: 'prometheus' }),
  async start(started, { keepData }) {
    const port = ports().prometheus;
    await assertPortsFree('prometheus', [{ port, env: 'FSE_PROMETHEUS_PORT' }]);
    const base = serviceDir('prometheus');
    if (!keepData) rmSync(base, { recursive: true, force: true });
    mkdirSync(join(base, 'data'), { recursive: true });
    mkdirSync(join(base, 'rules'), { recursive: true });
    const config = join(base, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 5s',
        '  evaluation_interval: 5s',
        'rule_files:',
        `  - ${join(base, 'rules')}/*.yml`,
        'scrape_configs:',
        '  - job_name: prometheus',
        '    static_configs:',
        `      - targets: ['${HOST}:${port}']`,
        '',
      ].join('\n'),
    );
    const logPath = logFile('prometheus');
    const d = spawnDaemon(
      'prometheus',
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(base, 'data')}`,
        '--storage.tsdb.retention.time=1d',
        `--web.listen-address=${HOST}:${port}`,
        '--web.enable-lifecycle',
        '--web.enable-admin-api',
      ],
      { logPath, match: config },
    );
    started.push(d);
    const url = `http://${HOST}:${port}`;
    await waitFor(`prometheus ${url}/-/ready`, () => ready(url), { timeoutMs: 60_000, alive: [d], logPath });
    const promtool = (await which('promtool')) ?? 'promtool';
    return { url, promtool };
  },
  healthy: (e) => ready(e.url),
};
