/**
 * The Grafana dashboard against real data: a sale runs as local processes (`flashsale up`: gateway and processor over
 * the harness's Redis and Kafka), `flashsale load` drives a short burst, a real Prometheus (Debian's package, started
 * by this test with its own config) scrapes both with the `namespace` and `sale` labels the sale's ServiceMonitor
 * sets, and every gateway and processor query of the dashboard must return a finite value.
 * The operator panels are checked against a live operator in chart-operator.test.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries } from '../../monitoring/dashboard.ts';
import { requireService } from '../support/services.ts';
import { eventually, freePort, freePortRun } from '../support/wait.ts';
import { fillVariables, promQuery, ROOT, runOk, startPrometheus } from './support.ts';

const redis = requireService('redis');
const kafka = requireService('kafka');
const { promtool } = requireService('prometheus');
const sale = `t-${randomUUID().slice(0, 8)}`;
const NAMESPACE = 'local';
const dir = mkdtempSync(join(tmpdir(), 'fse-dashboard-'));
const children: ChildProcess[] = [];

function start(cmd: string, args: string[], log: string): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const out: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => out.push(b));
  child.on('exit', () => writeFileSync(join(dir, log), Buffer.concat(out)));
  children.push(child);
  return child;
}

async function stop(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

let promUrl = '';
let gatewayUrl = '';

beforeAll(async () => {
  const [gatewayPort, processorPort] = [await freePort(), await freePortRun(1)];
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  start(
    process.execPath,
    [
      'cli/src/main.ts',
      'up',
      '-f',
      'examples/flashsale.yaml',
      '--sale',
      sale,
      '--redis',
      redis.addr,
      '--kafka',
      kafka.brokers.join(','),
      '--now',
      '--port',
      String(gatewayPort),
      '--metrics-port',
      String(processorPort),
      '--processors',
      '1',
      '--partitions',
      '2',
      '--delete-on-exit',
    ],
    'up.log',
  );
  await eventually('the gateway /health', async () => (await fetch(`${gatewayUrl}/health`)).ok, 60_000);
  await eventually('the processor /metrics', async () => (await fetch(`http://127.0.0.1:${processorPort}/metrics`)).ok);

  const labels = { namespace: NAMESPACE, sale };
  const prom = await startPrometheus(promtool, dir, [
    { job: 'gateway', target: `127.0.0.1:${gatewayPort}`, labels },
    { job: 'processor', target: `127.0.0.1:${processorPort}`, labels },
  ]);
  children.push(prom.child);
  promUrl = prom.url;
  // Rates need a sample from before the burst: wait until both targets have been scraped (with their zero counts).
  await eventually(
    'the first scrapes of the gateway and processor',
    async () =>
      (await promQuery(promUrl, `processor_order_processing_duration_seconds_count{sale="${sale}"}`)).length > 0 &&
      (await promQuery(promUrl, `up{job="gateway", sale="${sale}"} == 1`)).length > 0,
    30_000,
  );
}, 120_000);

afterAll(async () => {
  // the sale drains (up to 30 s) and deletes its keys and topics (--delete-on-exit)
  await Promise.all(children.map((c) => stop(c, 40_000)));
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the Grafana dashboard on a live gateway and processor', () => {
  it('every gateway and processor query returns a finite value after a short burst of orders', async () => {
    await runOk(
      process.execPath,
      [
        'cli/src/main.ts',
        'load',
        '--url',
        gatewayUrl,
        '--sale',
        sale,
        '--users',
        '30',
        '--attempts',
        '200',
        '--max-seconds',
        '20',
        '--no-progress',
      ],
      { timeoutMs: 50_000 },
    );
    const live = dashboardQueries().filter((q) => q.source !== 'operator');
    expect(live.length).toBeGreaterThan(20);
    // Grafana's $__rate_interval is at least four scrape intervals; on a loaded machine scrapes slip, so give the
    // rate windows room (the panels' meaning does not depend on the window).
    const query = (expr: string) =>
      promQuery(promUrl, fillVariables(expr, { namespace: NAMESPACE, sale, rateInterval: '2m' }));
    // a few scrapes after the burst, every query has data
    const empty = await eventually(
      'every dashboard query to return data',
      async () => {
        const missing: string[] = [];
        for (const q of live) if ((await query(q.expr)).length === 0) missing.push(`${q.panel}: ${q.expr}`);
        return missing.length === 0 ? [] : undefined;
      },
      45_000,
    ).catch(async (e: Error) => {
      const missing: string[] = [];
      for (const q of live) if ((await query(q.expr)).length === 0) missing.push(`${q.panel}: ${q.expr}`);
      throw new Error(`${e.message}\nno data:\n  ${missing.join('\n  ')}`);
    });
    expect(empty).toEqual([]);

    // and the numbers mean what the panels say
    const received = await query('sum(gateway_orders_received_total{namespace="local"})');
    expect(Number(received[0]!.value[1])).toBeGreaterThan(0);
    const items = await query(`min by (item_id) (processor_inventory_level{sale="${sale}"})`);
    expect(items.map((s) => s.metric.item_id).sort()).toEqual(['console-x', 'gift-card-50', 'headphones-pro']);
    const drift = await query(`max(abs(processor_inventory_drift{sale="${sale}"}))`);
    expect(Number(drift[0]!.value[1])).toBe(0);
  }, 120_000);

  it('the queries of another sale return nothing (the sale label filters)', async () => {
    for (const q of dashboardQueries()
      .filter((x) => x.source === 'gateway')
      .slice(0, 3)) {
      const r = await promQuery(promUrl, fillVariables(q.expr, { namespace: NAMESPACE, sale: 'no-such-sale' }));
      expect(r.filter((x) => Number(x.value[1]) !== 0)).toEqual([]);
    }
  });
});
