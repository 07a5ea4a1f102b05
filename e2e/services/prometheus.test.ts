import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';

const run = promisify(execFile);

describe('prometheus and promtool', () => {
  const { url, promtool } = requireService('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'fse-promtool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('promtool accepts a valid rule file and refuses a broken one', async () => {
    const good = join(dir, 'good.yml');
    writeFileSync(
      good,
      `groups:
  - name: smoke
    rules:
      - alert: SmokeAlwaysFiring
        expr: vector(1) > 0
        for: 1m
        labels: { severity: info }
        annotations: { summary: smoke test }
`,
    );
    const ok = await run(promtool, ['check', 'rules', good]);
    expect(ok.stdout).toMatch(/SUCCESS: 1 rules found/);

    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) by\n',
    );
    await expect(run(promtool, ['check', 'rules', bad])).rejects.toMatchObject({ code: 1 });
  });

  it('the server answers queries and scrapes itself', async () => {
    const result = await eventually('up{job="prometheus"} == 1', async () => {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('up{job="prometheus"}')}`);
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === '1' ? body : undefined;
    });
    expect(result.data.result).toHaveLength(1);
  });
});
