/**
 * `make bench`: runs every benchmark in its own process, one after the other (2 shared cores: never two at once),
 * collects their JSON, writes `bench/results/<time>.json` and `bench/results/latest.json`, and rewrites the generated
 * section of `docs/benchmarks.md`: each figure beside the ceiling measured in the same run, as a ratio, with the
 * machine described (cores, memory, load average before and after: other work on the machine skews every figure).
 *
 *   node bench/run.ts [--only gateway,processor,processorHanging,e2e,load,scaling,scale-out] [--quick]
 *
 * Benchmarks that are missing (bench/gateway.ts, bench/processor.ts belong to the gateway and processor work) or
 * that fail are reported as such; the others still run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { awaitQuiet, machineTicks, stolenShare } from './scale-out.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'gateway,processor,processorHanging,e2e,load,scaling,scale-out' },
    quick: { type: 'boolean', default: false },
    /** re-render docs/benchmarks.md from a results file (after a change of the rendering), without running */
    render: { type: 'string' },
  },
});
const only = new Set(String(values.only).split(','));
const quick = values.quick;

interface Bench {
  name: string;
  file: string;
  args: string[];
  /** what the figures are scaled to, in words */
  note: string;
  timeoutMs: number;
  /** harness services only this benchmark needs: started right before it and stopped after it when they were not
   *  running before (three idle brokers took about a sixth of a core beside the other benchmarks) */
  services?: string[];
}

const E2E = quick ? { units: 2000, attempts: 10_000, users: 2500 } : { units: 10_000, attempts: 50_000, users: 12_500 };

const BENCHES: Bench[] = [
  {
    name: 'gateway',
    file: 'bench/gateway.ts',
    args: ['--duration', quick ? '4' : '6', '--rounds', quick ? '2' : '3', '--connections', '50'],
    note: 'autocannon, 50 connections, full path vs the no-op fastify route and the floor server, measured in turns (rounds of 6 s each, the order rotated), same run',
    timeoutMs: 180_000,
  },
  {
    name: 'processor',
    file: 'bench/processor.ts',
    args: ['--orders', quick ? '10000' : '30000', '--rounds', quick ? '2' : '3'],
    note: 'backlogs drained by one processor, payment latency 0-1 ms (10 % declined), vs redis EVALSHA of the reserve script, in turns (3 rounds, each between two ceiling runs)',
    timeoutMs: 300_000,
  },
  {
    name: 'processorHanging',
    file: 'bench/processor.ts',
    args: [
      '--orders',
      quick ? '10000' : '30000',
      '--rounds',
      quick ? '2' : '3',
      '--timeout-share',
      '0.5',
      '--timeout',
      '200ms',
    ],
    note: 'the same with half of the failed payments (5 % of all) hanging until the 200 ms payment timeout',
    timeoutMs: 300_000,
  },
  {
    name: 'e2e',
    file: 'bench/e2e.ts',
    args: ['--units', String(E2E.units), '--attempts', String(E2E.attempts), '--users', String(E2E.users)],
    note: `flashsale up + flashsale load: ${E2E.units} units, ${E2E.attempts} attempts from ${E2E.users} users (the issue asks 200,000 from 50,000; scaled to finish in minutes on this machine)`,
    timeoutMs: 420_000,
  },
  {
    name: 'load',
    file: 'bench/load-generator.ts',
    args: quick
      ? ['--attempts', '30000', '--users', '7500', '--gateway-attempts', '20000']
      : ['--attempts', '60000', '--users', '15000', '--gateway-attempts', '40000'],
    note:
      "flashsale load's engine (1 and 2 threads) and autocannon against a node:http server answering 202; then " +
      '`flashsale up` (rate limits lifted, ample stock) driven by the whole `flashsale load` (audit included) and by ' +
      'autocannon, 256 connections',
    timeoutMs: 420_000,
  },
  {
    name: 'scaling',
    file: 'bench/scaling.ts',
    args: ['--orders', quick ? '4000' : '6000'],
    note: 'backlog drained with processors x partitions x items; payment 0-1 ms',
    timeoutMs: 600_000,
  },
  {
    name: 'scale-out',
    file: 'bench/scale-out.ts',
    args: [
      ...(quick ? ['--orders', '4000', '--hot', '1500'] : ['--orders', '10000', '--hot', '3000']),
      '--quiet-max',
      '5',
      '--budget',
      quick ? '150' : '300',
    ],
    note:
      'Redis Cluster (3 masters + 3 replicas) and 3-broker Kafka (RF 3), 12 partitions, 64 items; 1/2/4 processors in ' +
      'one group, payment 0-1, 20-50 and 50-200 ms (10 % declined); one hot item over K = 1/4/16 buckets; ceiling ' +
      'redis-benchmark --cluster -t incr before and after',
    timeoutMs: 480_000,
    services: ['redisCluster', 'kafka3'],
  },
];

/** The last JSON object a benchmark printed (one line, or a pretty-printed block). */
export function lastJson(text: string): Record<string, unknown> | null {
  const lines = text.split('\n');
  for (let end = lines.length - 1; end >= 0; end--) {
    const l = lines[end]?.trimEnd() ?? '';
    if (!l.endsWith('}')) continue;
    for (let start = end; start >= 0; start--) {
      if (!(lines[start] ?? '').startsWith('{')) continue;
      try {
        const v = JSON.parse(lines.slice(start, end + 1).join('\n')) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {
        // not a complete object yet: extend upwards
      }
    }
  }
  return null;
}

const procStat = () => machineTicks(readFileSync('/proc/stat', 'utf8'));

/**
 * Before the first benchmark, and after starting a benchmark's own services, wait (at most 3 min) for a second with the
 * machine at most 25 % busy, as scale-out does before each case: services that just started keep the cores busy (a
 * run of 2026-12-07 with the brokers and the Redis Cluster starting beside the gateway's rounds: gateway to floor 0.59
 * against 0.75-0.79 warm).
 */
async function settle(): Promise<{ waitedS: number; busy: number }> {
  const t0 = performance.now();
  const busy = await awaitQuiet(0.25, 180_000);
  return { waitedS: Math.round((performance.now() - t0) / 1000), busy };
}

const harness = (...args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'tools/harness/src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });

/** Start a benchmark's own services; returns those it started (to stop after it). */
async function startServices(names: string[]): Promise<string[]> {
  const status = JSON.parse(((s: string) => s.slice(s.indexOf('[')))(harness('status', '--json', ...names))) as {
    name: string;
    state: string;
  }[];
  const started = names.filter((n) => status.find((x) => x.name === n)?.state !== 'running');
  if (started.length === 0) return [];
  process.stderr.write(`starting ${started.join(', ')} for this benchmark...\n`);
  harness('up', ...started);
  await settle();
  return started;
}

function runBench(b: Bench): Promise<{
  ok: boolean;
  seconds: number;
  /** the share of the machine's CPU time the hypervisor gave to others while this benchmark ran (steal) */
  stolen: number;
  result: Record<string, unknown> | null;
  error?: string;
}> {
  const t0 = Date.now();
  const ticks0 = procStat();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings', join(ROOT, b.file), ...b.args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), b.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((Date.now() - t0) / 1000);
      const stolen = stolenShare(ticks0, procStat());
      const result = lastJson(out);
      if (code === 0 && result) resolve({ ok: true, seconds, stolen, result });
      else
        resolve({
          ok: false,
          seconds,
          stolen,
          result,
          error: `exit ${code ?? signal}${signal === 'SIGTERM' ? ` (timeout ${b.timeoutMs / 1000} s)` : ''}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
        });
    });
  });
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage1m: Number((os.loadavg()[0] ?? 0).toFixed(2)),
    /** /proc/stat's machine-wide ticks now: the run's steal share is read from two of these */
    ticks: procStat(),
  };
}

/** The commit measured, and whether the code under test had uncommitted changes (others work in the same tree). */
function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'common', 'lua', 'processor', 'gateway', 'cli'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean).length;
    return dirty
      ? `commit ${head} + ${dirty} uncommitted file(s) in common/lua/processor/gateway/cli`
      : `commit ${head}`;
  } catch {
    return 'unknown commit';
  }
}

type Row = { figure: string; value: string; ceiling: string; ratio: string; target: string; met: string };
const n = (v: unknown, d = 0) =>
  typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-';
const yes = (b: boolean | undefined) => (b === undefined ? '-' : b ? 'yes' : '**no**');
type J = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as J)[k] : undefined), o);
const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

export function rows(r: Record<string, { ok: boolean; result: J | null; error?: string } | undefined>): Row[] {
  const out: Row[] = [];
  const missing = (name: string, why: string) =>
    out.push({ figure: name, value: why, ceiling: '-', ratio: '-', target: '-', met: '-' });

  const g = r.gateway;
  if (g?.ok && g.result) {
    const full = num(get(g.result, 'full', 'acceptedPerSecond'));
    const base = num(get(g.result, 'base', 'acceptedPerSecond'));
    const floor = num(get(g.result, 'floor', 'acceptedPerSecond'));
    const perRound = (k: string) => {
      const v = ((get(g.result, 'roundRatios') as J[] | undefined) ?? []).map((x) => num(x[k]));
      return v.length > 1 ? `; rounds ${n(Math.min(...v), 2)}-${n(Math.max(...v), 2)}` : '';
    };
    out.push({
      figure: 'gateway accepted orders/s (full path, 1 process)',
      value: n(full),
      ceiling: `${n(base)} (no-op fastify route)`,
      ratio: `${n(full / base, 3)}${perRound('fullToNoop')}`,
      target: '>= 0.30 (issue 17) and >= 10,000/s',
      met: `ratio ${yes(full / base >= 0.3)}; 10,000/s ${yes(full >= 10_000)}`,
    });
    if (Number.isFinite(floor)) {
      out.push({
        figure: 'gateway accepted orders/s beside the floor (one admission script + one acks=all send per request)',
        value: n(full),
        ceiling: `${n(floor)} (floor server; ${n(floor / base, 3)} x the no-op)`,
        ratio: `${n(full / floor, 3)}${perRound('fullToFloor')}`,
        target: '>= 0.8',
        met: yes(full / floor >= 0.8),
      });
      out.push({
        figure: 'gateway CPU ms per accepted order (its own process)',
        value: n(num(get(g.result, 'full', 'cpuMsPerAccepted')), 3),
        ceiling: `${n(num(get(g.result, 'floor', 'cpuMsPerAccepted')), 3)} (floor), ${n(num(get(g.result, 'base', 'cpuMsPerAccepted')), 3)} (no-op)`,
        ratio: n(num(get(g.result, 'floor', 'cpuMsPerAccepted')) / num(get(g.result, 'full', 'cpuMsPerAccepted')), 3),
        target: '-',
        met: '-',
      });
    }
    const at80 = get(g.result, 'at80');
    out.push({
      figure: at80
        ? 'gateway latency p50 / p99 at 80 % of its rate (ms)'
        : 'gateway latency p50 / p99 at saturation (ms)',
      value: at80
        ? `${n(get(at80, 'p50'))} / ${n(get(at80, 'p99'))} (${n(get(at80, 'offeredRate'))}/s offered)`
        : `${n(get(g.result, 'full', 'p50'))} / ${n(get(g.result, 'full', 'p99'))}`,
      ceiling: `${n(get(g.result, 'base', 'p50'))} / ${n(get(g.result, 'base', 'p99'))} (no-op at saturation)`,
      ratio: n(num(get(at80 ?? g.result.full, 'p99')) / Math.max(1, num(get(g.result, 'base', 'p99'))), 1),
      target: 'p99 <= 50 ms at 80 % of the rate',
      met: at80 ? yes(num(get(at80, 'p99')) <= 50) : '-',
    });
    const rpo = get(g.result, 'redisPerOrder', 'full');
    if (rpo) {
      out.push({
        figure: 'Redis per accepted order: script calls / commands (INFO commandstats)',
        value: `${n(get(rpo, 'scriptCalls'), 2)} / ${n(get(rpo, 'commands'), 2)}`,
        ceiling: `${n(get(g.result, 'redisPerOrder', 'floor', 'scriptCalls'), 2)} / ${n(get(g.result, 'redisPerOrder', 'floor', 'commands'), 2)} (floor)`,
        ratio: '-',
        target: '<= 2 / <= 8',
        met: yes(num(get(rpo, 'scriptCalls')) <= 2 && num(get(rpo, 'commands')) <= 8),
      });
    }
    const rss = num(get(g.result, 'rssMb', 'gateway', 'peak'));
    if (Number.isFinite(rss)) {
      out.push({
        figure: 'gateway peak RSS after the saturated run (MB)',
        value: n(rss),
        ceiling: `${n(get(g.result, 'rssMb', 'noop', 'peak'))} (no-op fastify route)`,
        ratio: n(rss / 200, 2),
        target: '<= 200 MB',
        met: yes(rss <= 200),
      });
    }
  } else missing('gateway benchmark', g ? `failed: ${g.error}` : 'not run');

  /** a processor run's row: orders/s against the EVALSHA ceiling of the same run */
  const processorRow = (
    res: Record<string, unknown>,
    figure: string,
    target: string,
    met: (ratio: number, rate: number) => string,
  ) => {
    const rate = num(res.processedPerSecond);
    const ceil = num(res.evalshaCeilingPerSecond);
    // each round against the mean of the two ceiling runs around it: the spread the machine's drift gives
    const byRound = ((res.processedPerSecondByRound as number[] | undefined) ?? []).map((r, i) => {
      const c = (res.evalshaCeilingByRun as number[] | undefined) ?? [];
      return r / (((c[i] ?? Number.NaN) + (c[i + 1] ?? Number.NaN)) / 2);
    });
    const spread = byRound.length > 1 ? `; rounds ${n(Math.min(...byRound), 2)}-${n(Math.max(...byRound), 2)}` : '';
    out.push({
      figure,
      value: n(rate),
      ceiling: `${n(ceil)} (EVALSHA reserve, same run)`,
      ratio: `${n(rate / ceil, 3)}${spread}`,
      target,
      met: met(rate / ceil, rate),
    });
  };
  const p = r.processor;
  if (p?.ok && p.result) {
    processorRow(
      p.result,
      'processor orders/s (1 process, payment latency 0-1 ms, 10 % declined)',
      '>= 0.85 (issue 17) and >= 20,000/s',
      // the absolute target comes from the first benchmark issue; this machine's own EVALSHA ceiling is below it
      (ratio, rate) => `ratio ${yes(ratio >= 0.85)}; 20,000/s ${yes(rate >= 20_000)}`,
    );
    const parts = p.result.cpuUsPerOrderByPart as Record<string, number> | undefined;
    const ceilParts = p.result.ceilingCpuUsPerCallByPart as Record<string, number> | undefined;
    if (parts && ceilParts) {
      const redisShare = (parts.redis ?? 0) / (ceilParts.redis || Number.NaN);
      out.push({
        figure:
          'processor: CPU µs per order by part while it drains (processor / Redis / Kafka; machine busy share); Redis per ceiling call beside it',
        value: `${parts.processor} / ${parts.redis} / ${parts.kafka} (${n(num(p.result.machineBusyWhileDraining) * 100)} % busy)`,
        ceiling: `Redis ${ceilParts.redis} µs per EVALSHA (one order), bench ${ceilParts.bench}`,
        ratio: n(redisShare, 2),
        target: '-',
        met: '-',
      });
    }
  } else missing('processor benchmark', p ? `failed: ${p.error}` : 'not run');
  const ph = r.processorHanging;
  if (ph?.ok && ph.result) {
    processorRow(
      ph.result,
      'processor orders/s, 5 % of the payments hanging until the 200 ms timeout',
      'none (the issue asks payments of 0-1 ms): shows what hanging payments cost',
      () => '-',
    );
  } else if (only.has('processorHanging'))
    missing('processor benchmark with hanging payments', ph ? `failed: ${ph.error}` : 'not run');

  const e = r.e2e;
  if (e?.ok && e.result) {
    const soldOut = e.result.soldOutAfterMs as number | null;
    const ceil = num(e.result.soldOutCeilingMs);
    out.push({
      figure: `end to end: sold out after (s), ${n(e.result.units)} units, ${n(e.result.attempts)} attempts`,
      value: soldOut === null ? 'never' : n(soldOut / 1000, 2),
      ceiling: `${n(ceil / 1000, 2)} (2x the time ${n(e.result.achievedRate)} req/s delivers the units)`,
      ratio: soldOut ? n(ceil / soldOut, 3) : '-',
      target: 'ratio >= 1',
      met: yes(soldOut !== null && ceil / soldOut >= 1),
    });
    out.push({
      figure: 'end to end: oversold units / lost orders',
      value: `${n(e.result.oversold)} / ${n(e.result.lost)}`,
      ceiling: '0 / 0',
      ratio: '-',
      target: '0 / 0',
      met: yes(e.result.oversold === 0 && e.result.lost === 0),
    });
    out.push({
      figure: 'end to end: achieved request rate (load generator on the same 2 cores)',
      value: `${n(e.result.achievedRate)} req/s`,
      ceiling: `${n(e.result.offeredRate)} req/s offered`,
      ratio: n(num(e.result.achievedRate) / num(e.result.offeredRate), 3),
      target: '-',
      met: '-',
    });
    const rss = (e.result.peakRssMb ?? {}) as Record<string, number | null>;
    for (const [proc, mb] of Object.entries(rss)) {
      out.push({
        figure: `peak RSS ${proc} under the end-to-end load (MB)`,
        value: n(mb),
        ceiling: '200 MB (issue 17)',
        ratio: n(num(mb) / 200, 2),
        target: '<= 1',
        met: yes(typeof mb === 'number' && mb <= 200),
      });
    }
  } else missing('end-to-end benchmark', e ? `failed: ${e.error}` : 'not run');

  const lg = r.load;
  if (lg?.ok && lg.result) out.push(...loadRows(lg.result));
  else missing('load-generator benchmark', lg ? `failed: ${lg.error}` : 'not run');

  const s = r.scaling;
  if (s?.ok && s.result) {
    const list = (s.result.results ?? []) as {
      processors: number;
      partitions: number;
      items: number;
      ordersPerSecond: number;
    }[];
    const base = list[0];
    for (const c of list) {
      out.push({
        figure: `scaling: ${c.processors} processor(s), ${c.partitions} partition(s), ${c.items} item(s)`,
        value: `${n(c.ordersPerSecond)} orders/s`,
        ceiling: base
          ? `${n(base.ordersPerSecond)} (${base.processors}x${base.partitions}x${base.items} baseline)`
          : '-',
        ratio: base ? n(c.ordersPerSecond / base.ordersPerSecond, 2) : '-',
        target: '-',
        met: '-',
      });
    }
  } else missing('scaling benchmark', s ? `failed: ${s.error}` : 'not run');

  const so = r['scale-out'];
  if (so?.ok && so.result) out.push(...scaleOutRows(so.result));
  else missing('scale-out benchmark', so ? `failed: ${so.error}` : 'not run');
  return out;
}

/** bench/load-generator.ts: what `flashsale load` can offer beside a no-op server, autocannon and the gateway. */
export function loadRows(res: J): Row[] {
  const out: Row[] = [];
  const ac = num(get(res, 'ceiling', 'autocannon', 'requestsPerSecond'));
  const gens = (get(res, 'ceiling', 'generator') ?? []) as {
    workers: number;
    requestsPerSecond: number;
    cpuUsPerRequest: number;
  }[];
  for (const g of gens) {
    out.push({
      figure: `load generator: requests/s offered to a no-op HTTP server, ${g.workers} thread(s) (CPU µs per request)`,
      value: `${n(g.requestsPerSecond)} (${n(g.cpuUsPerRequest, 1)} µs)`,
      ceiling: `${n(ac)} (autocannon, same server; ${n(get(res, 'ceiling', 'autocannon', 'cpuUsPerRequest'), 1)} µs)`,
      ratio: n(g.requestsPerSecond / ac, 2),
      target: '-',
      met: '-',
    });
  }
  const fl = get(res, 'gateway', 'flashsale');
  const gac = get(res, 'gateway', 'autocannon');
  if (fl && gac) {
    const best = Math.max(...gens.map((g) => g.requestsPerSecond));
    out.push({
      figure: "load generator: offered (no-op server) over the gateway's accepted orders/s (full path, same machine)",
      value: `${n(best)} / ${n(Math.max(num(get(fl, 'acceptedPerSecond')), num(get(gac, 'acceptedPerSecond'))))}`,
      ceiling: `gateway accepted/s: ${n(get(fl, 'acceptedPerSecond'))} under \`flashsale load\`, ${n(get(gac, 'acceptedPerSecond'))} under autocannon`,
      ratio: n(get(res, 'ratios', 'offeredOverGatewayAccepted'), 2),
      target: '>= 2',
      met: yes(num(get(res, 'ratios', 'offeredOverGatewayAccepted')) >= 2),
    });
    out.push({
      figure: 'gateway accepted orders/s under `flashsale load` (its audit: oversold / lost) over under autocannon',
      value: `${n(get(fl, 'acceptedPerSecond'))} (${n(get(fl, 'oversold'))} / ${n(get(fl, 'lost'))})`,
      ceiling: `${n(get(gac, 'acceptedPerSecond'))} (autocannon)`,
      ratio: n(get(res, 'ratios', 'gatewayUnderLoadOverAutocannon'), 2),
      target: '0 / 0',
      met: yes(get(fl, 'oversold') === 0 && get(fl, 'lost') === 0),
    });
    out.push({
      figure: 'CPU µs: load generator per request / gateway per accepted order (during the burst)',
      value: `${n(get(fl, 'generatorCpuUsPerRequest'), 1)} / ${n(get(fl, 'gatewayCpuUsPerAccepted'))}`,
      ceiling: `${n(get(gac, 'cpuUsPerRequest'), 1)} / ${n(get(gac, 'gatewayCpuUsPerAccepted'))} (autocannon)`,
      ratio: n(get(res, 'ratios', 'generatorCpuOverGatewayCpu'), 3),
      target: '-',
      met: '-',
    });
  }
  return out;
}

interface SoCase {
  processors: number;
  paymentMs: string;
  partitions: number;
  ordersPerSecond: number;
  drained: boolean;
  machineBusy: number;
  processorBusy: number;
  processorCpuMsPerOrder: number;
  cpuSeconds: Record<string, number>;
  seconds: number;
  load?: number;
  busyBefore?: number;
  redisPerOrder?: { scriptCalls: number; scriptUsec: number; commands: number };
  buckets?: number;
  oversold?: number;
  strandedSoldOut?: number;
}
interface SoLib {
  buckets: number;
  reservesPerSecond: number;
  oversold: number;
  machineBusy: number;
}

/** The mean of the cluster ceiling before and after (redis-benchmark --cluster -t incr). */
export function soCeiling(res: J): number {
  const b = num(get(res, 'ceiling', 'before'));
  const a = num(get(res, 'ceiling', 'after'));
  return Number.isFinite(a) && a > 0 ? (b + a) / 2 : b;
}

/** Growth of each case against the first case of its group (same payment latency, or same hot-item path). */
export function growth<T>(list: T[], group: (c: T) => string, rate: (c: T) => number): number[] {
  const base = new Map<string, number>();
  return list.map((c) => {
    const g = group(c);
    if (!base.has(g)) base.set(g, rate(c));
    return rate(c) / (base.get(g) ?? Number.NaN);
  });
}

export function scaleOutRows(res: J): Row[] {
  const out: Row[] = [];
  const ceil = soCeiling(res);
  const ceilText = `${n(ceil)} INCR/s (redis-benchmark --cluster, mean of before/after)`;
  out.push({
    figure: 'scale-out ceiling: INCR/s on the Redis Cluster before / after the cases; single Redis',
    value: `${n(get(res, 'ceiling', 'before'))} / ${n(get(res, 'ceiling', 'after'))}; ${n(get(res, 'ceiling', 'single'))}`,
    ceiling: '-',
    ratio: '-',
    target: '-',
    met: '-',
  });
  const procs = (res.processors ?? []) as SoCase[];
  const g = growth(
    procs,
    (c) => c.paymentMs,
    (c) => c.ordersPerSecond,
  );
  procs.forEach((c, i) => {
    const x = g[i] ?? Number.NaN;
    out.push({
      figure: `scale-out: ${c.processors} processor(s), payment ${c.paymentMs} ms, ${c.partitions} partitions (cluster, 3 brokers)`,
      value: `${n(c.ordersPerSecond)} orders/s (x${n(x, 2)} of 1 processor)${c.drained ? '' : ' **not drained**'}`,
      ceiling: ceilText,
      ratio: n(c.ordersPerSecond / ceil, 3),
      target: c.processors > 1 ? 'grows with processors (x >= 1.15)' : '-',
      met: c.processors > 1 ? yes(x >= 1.15) : '-',
    });
  });
  const hot = (res.hotProcessor ?? []) as SoCase[];
  const gh = growth(
    hot,
    () => 'hot',
    (c) => c.ordersPerSecond,
  );
  hot.forEach((c, i) => {
    const x = gh[i] ?? Number.NaN;
    out.push({
      figure: `scale-out: one hot item, K = ${c.buckets} bucket(s), through 1 processor, payment ${c.paymentMs} ms`,
      value: `${n(c.ordersPerSecond)} orders/s (x${n(x, 2)} of K = 1); oversold ${n(c.oversold)}, stranded ${n(c.strandedSoldOut)}`,
      ceiling: ceilText,
      ratio: n(c.ordersPerSecond / ceil, 3),
      target: (c.buckets ?? 1) > 1 ? 'grows with K (x >= 1.15); 0 oversold' : '0 oversold',
      met: yes(((c.buckets ?? 1) <= 1 || x >= 1.15) && c.oversold === 0),
    });
  });
  for (const f of (res.failures ?? []) as { case: string; error: string }[]) {
    out.push({
      figure: `scale-out: ${f.case}`,
      value: `failed: ${f.error}`,
      ceiling: '-',
      ratio: '-',
      target: '-',
      met: '**no**',
    });
  }
  const lib = (res.hotLibrary ?? []) as SoLib[];
  const gl = growth(
    lib,
    () => 'lib',
    (c) => c.reservesPerSecond,
  );
  lib.forEach((c, i) => {
    const x = gl[i] ?? Number.NaN;
    out.push({
      figure: `scale-out: one hot item, K = ${c.buckets} bucket(s), library level (reserveBucketed, no processor)`,
      value: `${n(c.reservesPerSecond)} reserves/s (x${n(x, 2)} of K = 1); oversold ${n(c.oversold)}`,
      ceiling: ceilText,
      ratio: n(c.reservesPerSecond / ceil, 3),
      target: c.buckets > 1 ? 'grows with K (x >= 1.15)' : '-',
      met: c.buckets > 1 ? yes(x >= 1.15) : '-',
    });
  });
  return out;
}

/** CPU ms per order of the processors, the Redis Cluster and the Kafka brokers together (load-independent). */
export function stackMs(c: { cpuSeconds: Record<string, number>; ordersPerSecond: number; seconds: number }): number {
  const cs = c.cpuSeconds;
  const orders = c.ordersPerSecond * c.seconds;
  return ((cs.processors ?? 0) + (cs.redisCluster ?? 0) + (cs.kafka3 ?? 0)) * (1000 / Math.max(1, orders));
}

/** Where the time went in each scale-out case: CPU seconds per part and the machine's busy share. */
export function scaleOutDetails(res: J): string[] {
  const procs = [...((res.processors ?? []) as SoCase[]), ...((res.hotProcessor ?? []) as SoCase[])];
  if (procs.length === 0) return [];
  const pct = (v: number) => `${Math.round(v * 100)} %`;
  return [
    '',
    'Scale-out, where the CPU went during each timed window (from `/proc`; 2 cores = 200 % of one core):',
    '',
    '| case | orders/s | window (s) | machine busy (before) | processors busy (each) | CPU ms/order: processors / all three | CPU s: processors / Redis Cluster / Kafka / bench / other work | Redis per order: script calls / script µs / commands | load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...procs.map((c) => {
      const name =
        c.buckets !== undefined
          ? `hot item, K = ${c.buckets}, 1 processor`
          : `${c.processors} processor(s), payment ${c.paymentMs} ms`;
      const cs = c.cpuSeconds;
      const rp = c.redisPerOrder;
      const before = c.busyBefore === undefined ? '' : ` (${pct(c.busyBefore)})`;
      return `| ${name} | ${n(c.ordersPerSecond)} | ${n(c.seconds, 2)} | ${pct(c.machineBusy)}${before} | ${pct(c.processorBusy)} | ${n(c.processorCpuMsPerOrder, 3)} / ${n(stackMs(c), 3)} | ${n(cs.processors, 2)} / ${n(cs.redisCluster, 2)} / ${n(cs.kafka3, 2)} / ${n(cs.bench, 2)} / ${n(cs.other, 2)} | ${rp ? `${n(rp.scriptCalls, 2)} / ${n(rp.scriptUsec, 1)} / ${n(rp.commands, 2)}` : '-'} | ${n(c.load, 1)} |`;
    }),
  ];
}

const percent = (v: number) => `${(v * 100).toFixed(1)} %`;

/** How much of the VM's CPU time the host gave to others over the run (absent from results files before it). */
function stealSentence(a: J | undefined, b: J | undefined): string {
  if (!a || !b) return '';
  const share = stolenShare(a as { total: number; steal: number }, b as { total: number; steal: number });
  return (
    ` The host took ${percent(share)} of this VM's CPU time over the run (steal, from /proc/stat; per benchmark in` +
    ' the notes): time in which no part here ran, so it lowers the figures of whichever part needed the CPU then.'
  );
}

export function renderSection(report: {
  at: string;
  machine: J;
  machineAfter: J;
  notes: Record<string, string>;
  rows: Row[];
  command: string;
  details?: string[];
  git?: string;
  /** the results file the section shows (default: latest.json) */
  jsonFile?: string;
}): string {
  const m = report.machine;
  const lines = [
    '<!-- bench:begin (generated by bench/run.ts; edit outside these markers) -->',
    `Latest run: ${report.at}, \`${report.command}\`, JSON in \`${report.jsonFile ?? 'bench/results/latest.json'}\`.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}. ` +
      `Load average (1 min) ${m.loadAverage1m} before and ${report.machineAfter.loadAverage1m} after: ` +
      'Redis, Kafka, the services and the load generator share these cores (and other work on the machine, if any).' +
      stealSentence(m.ticks as J | undefined, report.machineAfter.ticks as J | undefined) +
      (report.git ? ` Code: ${report.git}.` : ''),
    '',
    '| figure | value | ceiling (same run) | ratio | target | met |',
    '|---|---|---|---|---|---|',
    ...report.rows.map((r) => `| ${r.figure} | ${r.value} | ${r.ceiling} | ${r.ratio} | ${r.target} | ${r.met} |`),
    ...(report.details ?? []),
    '',
    ...Object.entries(report.notes).map(([k, v]) => `- ${k}: ${v}`),
    '<!-- bench:end -->',
  ];
  return lines.join('\n');
}

async function writeDoc(report: Parameters<typeof renderSection>[0]): Promise<string> {
  const docFile = join(ROOT, 'docs/benchmarks.md');
  const section = renderSection(report);
  let doc = await readFile(docFile, 'utf8').catch(() => '');
  if (/<!-- bench:begin[\s\S]*<!-- bench:end -->/.test(doc)) {
    doc = doc.replace(/<!-- bench:begin[\s\S]*<!-- bench:end -->/, section);
  } else {
    doc = `# Benchmarks\n\nRun with \`make bench\` (services from the harness; about 10 minutes).\n\n${section}\n`;
  }
  await writeFile(docFile, doc);
  return section;
}

/** `--render bench/results/<run>.json`: the section again from the stored results (same run, same figures). */
async function rerender(file: string) {
  const r = JSON.parse(await readFile(file, 'utf8')) as {
    at: string;
    command: string;
    git?: string;
    machine: J;
    machineAfter: J;
    notes: Record<string, string>;
    results: Record<string, { ok: boolean; result: J | null; error?: string }>;
  };
  const so = r.results['scale-out'];
  await writeDoc({
    ...r,
    jsonFile: file.replace(ROOT, ''),
    rows: rows(r.results),
    details: so?.ok && so.result ? scaleOutDetails(so.result) : [],
  });
  process.stdout.write(`rendered docs/benchmarks.md from ${file}\n`);
}

async function main() {
  if (values.render) return rerender(values.render);
  const settled = await settle();
  const at = new Date().toISOString();
  const before = { ...machine(), settled };
  const results: Record<string, { ok: boolean; seconds: number; stolen?: number; result: J | null; error?: string }> =
    {};
  const notes: Record<string, string> = {};
  for (const b of BENCHES) {
    if (!only.has(b.name)) continue;
    if (!existsSync(join(ROOT, b.file))) {
      results[b.name] = { ok: false, seconds: 0, result: null, error: `${b.file} does not exist yet` };
      continue;
    }
    process.stderr.write(`\n=== bench ${b.name}: node ${b.file} ${b.args.join(' ')}\n`);
    const started = await startServices(b.services ?? []);
    results[b.name] = await runBench(b);
    if (started.length > 0) harness('down', ...started);
    const r = results[b.name];
    notes[b.name] =
      `${b.note} (\`node ${b.file} ${b.args.join(' ')}\`, ${r?.seconds} s, ${percent(r?.stolen ?? 0)} of the CPU time stolen by the host)`;
  }
  const after = machine();
  const command = `make bench${quick ? ' (--quick)' : ''}`;
  const table = rows(results);
  const so = results['scale-out'];
  const details = so?.ok && so.result ? scaleOutDetails(so.result) : [];
  const report = {
    at,
    command,
    jsonFile: `bench/results/${at.replace(/[:.]/g, '-')}.json`,
    git: gitState(),
    machine: before,
    machineAfter: after,
    notes,
    results,
    rows: table,
    details,
  };
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(join(dir, `${at.replace(/[:.]/g, '-')}.json`), text);
  await writeFile(join(dir, 'latest.json'), text);

  const section = await writeDoc(report);
  process.stdout.write(`\n${section}\n\nwrote bench/results/latest.json and docs/benchmarks.md\n`);
}

if (import.meta.main) await main();
