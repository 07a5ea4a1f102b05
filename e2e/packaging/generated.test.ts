/**
 * One source, no second copies: the committed rule files, promtool tests, dashboard and the chart's CRD copy equal
 * what tools/gen-rules.ts generates now; every alert's runbook_url points at a heading of docs/runbook.md; the
 * Dockerfile is checked by reading it against the repository (e2e/packaging/image.test.ts builds and runs it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { operatorAlertGroups, RUNBOOK_ANCHORS, saleAlertGroups } from '../../common/src/alerts.ts';
import { GATEWAY_METRICS, OPERATOR_METRICS, PROCESSOR_METRICS } from '../../common/src/metrics.ts';
import { buildDashboard, dashboardQueries } from '../../monitoring/dashboard.ts';
import { generatedFiles, staleFiles } from '../../tools/gen-rules.ts';
import { ROOT } from './support.ts';

describe('generated packaging files', () => {
  it('the committed files equal the generated ones (run `node tools/gen-rules.ts` after changing a source)', () => {
    expect(staleFiles()).toEqual([]);
  });

  it("the chart ships byte copies of crds/ (the operator's generated CRD), nothing else", () => {
    const files = generatedFiles();
    const copies = [...files.keys()].filter((p) => p.startsWith('charts/flash-sale-operator/files/crds/'));
    expect(copies).toEqual(['charts/flash-sale-operator/files/crds/flashsale.dev_flashsales.yaml']);
    for (const p of copies) {
      expect(readFileSync(join(ROOT, p), 'utf8')).toBe(readFileSync(join(ROOT, 'crds', p.split('/').pop()!), 'utf8'));
    }
  });

  it('alerts: the runbook seven plus lag, 5xx, drift and the operator, each with severity, summary, description, runbook_url', () => {
    const rules = [...saleAlertGroups({ sale: 'x', namespace: 'y' }), ...operatorAlertGroups()].flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual(Object.keys(RUNBOOK_ANCHORS).sort());
    for (const r of rules) {
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.description.length).toBeGreaterThan(20);
      expect(r.annotations.runbook_url).toMatch(/^docs\/runbook\.md#[a-z0-9]+$/);
    }
  });

  it('every runbook_url anchor is a heading of docs/runbook.md', () => {
    const md = readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes
    const anchors = new Set(
      [...md.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const a of Object.values(RUNBOOK_ANCHORS)) expect(anchors, a).toContain(a);
    // the links inside the runbook resolve too
    for (const [, a] of md.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors, `#${a}`).toContain(a);
  });

  it('the alert thresholds are parameters: a sale spec changes the rendered expressions', () => {
    const [g] = saleAlertGroups({ sale: 's', namespace: 'n', thresholds: { dlqSize: 7, gateway5xxRate: 0.05 } });
    const expr = Object.fromEntries(g!.rules.map((r) => [r.alert, r.expr]));
    expect(expr.FlashSaleDLQSizeHigh).toMatch(/ > 7$/);
    expect(expr.FlashSaleGateway5xxRateHigh).toMatch(/ > 0\.05$/);
    expect(expr.FlashSaleDLQMessageTooOld).toMatch(/ > 3600$/);
    for (const e of Object.values(expr)) expect(e).toContain('sale="s",namespace="n"');
  });

  it('the dashboard queries only metric names from common/src/metrics.ts and covers the issue list', () => {
    const known = new Set<string>([
      ...Object.values(GATEWAY_METRICS),
      ...Object.values(PROCESSOR_METRICS),
      ...Object.values(OPERATOR_METRICS),
    ]);
    const functions = new Set(['sum', 'rate', 'max', 'min', 'by', 'histogram_quantile', 'or', 'vector', 'le']);
    for (const q of dashboardQueries()) {
      const names = [...q.expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?:\{|\[)/g)].map((m) => m[1]!);
      expect(names.length, q.expr).toBeGreaterThan(0);
      for (const n of names) {
        if (functions.has(n)) continue;
        expect(known, `${q.panel}: ${n}`).toContain(n.replace(/_bucket$/, ''));
      }
    }
    const titles = buildDashboard().panels.map((p) => p.title);
    for (const t of [
      'Request rate',
      'Responses by status',
      'Latency p50 / p95 / p99',
      'In-flight requests',
      'Response size p95',
      'Order totals',
      'Throughput',
      'Failures by reason',
      'DLQ size',
      'DLQ oldest message age',
      'Consumer lag by partition',
      'Remaining per item',
      'Sold and remaining per item (operator)',
      // issue 16: what an operator watches during a sale
      'Replicas: the autoscaler decision and ready pods',
      'Consumer lag the processor autoscaler reads',
      'Rate-limited requests by policy',
      'Holds expired and late payments refunded',
      'Operator leader (1: holds the Lease)',
    ]) {
      expect(titles).toContain(t);
    }
    expect(titles.some((t) => t.startsWith('Circuit breaker'))).toBe(true);
  });
});

describe('Dockerfile, read against the repository (image.test.ts builds and runs it with podman)', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('is multi-stage on Node 24 (slim), and the runtime runs as a numeric non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24[\w.-]*-slim$/m);
    for (const s of stages) expect(s).toMatch(/^\$\{NODE_IMAGE\} /);
    const user = [...runtime.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1];
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('PID 1 is tini (signals forwarded, zombies reaped); CMD is a part that exists', () => {
    expect(runtime).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(runtime).toMatch(/^COPY --from=tini \/usr\/bin\/tini-static \/usr\/bin\/tini$/m);
    const cmd = runtime.match(/^CMD (\[.*\])$/m)?.[1];
    const argv = JSON.parse(cmd!) as string[];
    expect(argv[0]).toBe('node');
    expect(existsSync(join(ROOT, argv[1]!))).toBe(true);
    for (const part of ['gateway', 'processor', 'operator', 'cli']) {
      expect(existsSync(join(ROOT, part, 'src', 'main.ts')), `${part}/src/main.ts`).toBe(true);
    }
  });

  it("npm ci --omit=dev sees every workspace's package.json (npm ci checks the lock against all of them)", () => {
    const deps = stages[0]!;
    expect(deps).toMatch(/npm ci --omit=dev/);
    expect(deps).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
    for (const ws of pkg.workspaces) {
      expect(deps, ws).toMatch(new RegExp(`^COPY ${ws}/package\\.json ${ws}/$`, 'm'));
    }
  });

  it('the runtime copies lua/, crds/ and the sources of every part, and .dockerignore keeps them', () => {
    for (const dir of ['lua', 'crds', 'common', 'gateway', 'processor', 'operator', 'cli']) {
      expect(runtime, dir).toMatch(new RegExp(`^COPY --chown=0:0 ${dir}/ ${dir}/$`, 'm'));
      expect(ignore, dir).not.toContain(dir);
      expect(ignore, dir).not.toContain(`${dir}/`);
    }
    expect(ignore).toContain('**/node_modules');
    expect(ignore).toContain('.git');
    // the workspace manifests npm ci needs are re-included after their folders are ignored
    for (const ws of pkg.workspaces.filter((w) => ignore.includes(`${w.split('/')[0]}/`))) {
      expect(ignore, ws).toContain(`!${ws}/package.json`);
    }
  });

  it('the chart runs the image the way the Dockerfile expects (args keep tini; commands name it)', () => {
    const values = readFileSync(join(ROOT, 'charts', 'flash-sale-operator', 'values.yaml'), 'utf8');
    expect(values).toContain('gatewayCommand: ["/usr/bin/tini", "--", "node", "gateway/src/main.ts"]');
    expect(values).toContain('processorCommand: ["/usr/bin/tini", "--", "node", "processor/src/main.ts"]');
    const deployment = readFileSync(
      join(ROOT, 'charts', 'flash-sale-operator', 'templates', 'deployment.yaml'),
      'utf8',
    );
    expect(deployment).toContain('args: ["node", "operator/src/main.ts"]');
    expect(deployment).not.toMatch(/^\s+command:/m);
  });
});
