import { describe, expect, it } from 'vitest';
import { growth, lastJson, loadRows, renderSection, rows, scaleOutDetails, scaleOutRows, soCeiling } from './run.ts';
import { commandStats, machineTicks, parseRange, perOrder, procTicks, stolenShare } from './scale-out.ts';

describe('bench runner', () => {
  it('finds the last JSON object, one line or pretty-printed', () => {
    expect(lastJson('noise\n{"a":1}\nmore\n{"b":2}\n')).toEqual({ b: 2 });
    expect(lastJson('x\n{\n  "c": {\n    "d": 3\n  }\n}\ntrailing text\n')).toEqual({ c: { d: 3 } });
    expect(lastJson('nothing here')).toBeNull();
  });

  it('puts each figure beside its ceiling as a ratio and flags missed targets', () => {
    const t = rows({
      gateway: {
        ok: true,
        result: {
          full: { acceptedPerSecond: 3000, p50: 5, p99: 40 },
          base: { acceptedPerSecond: 10_000, p50: 1, p99: 4 },
        },
      },
      processor: { ok: false, result: null, error: 'exit 1' },
    });
    const gw = t.find((r) => r.figure.startsWith('gateway accepted'));
    expect(gw).toMatchObject({ ratio: '0.300', met: 'ratio yes; 10,000/s **no**' });
    expect(t.find((r) => r.figure === 'processor benchmark')?.value).toMatch(/failed: exit 1/);
    expect(t.find((r) => r.figure === 'end-to-end benchmark')?.value).toBe('not run');
    expect(t.find((r) => r.figure === 'scale-out benchmark')?.value).toBe('not run');
  });

  it("shows each round's ratio range beside the summed ratio (gateway against its no-op and floor, processor against the ceilings around it)", () => {
    const t = rows({
      gateway: {
        ok: true,
        result: {
          full: { acceptedPerSecond: 4000 },
          base: { acceptedPerSecond: 12_000 },
          floor: { acceptedPerSecond: 5000 },
          roundRatios: [
            { fullToNoop: 0.31, fullToFloor: 0.72 },
            { fullToNoop: 0.35, fullToFloor: 0.91 },
          ],
        },
      },
      processor: {
        ok: true,
        result: {
          processedPerSecond: 12_000,
          evalshaCeilingPerSecond: 15_000,
          processedPerSecondByRound: [10_000, 14_000],
          evalshaCeilingByRun: [12_000, 14_000, 16_000],
        },
      },
    });
    expect(t.find((r) => r.figure.startsWith('gateway accepted orders/s (full'))?.ratio).toBe(
      '0.333; rounds 0.31-0.35',
    );
    const floor = t.find((r) => r.figure.startsWith('gateway accepted orders/s beside the floor'));
    expect(floor).toMatchObject({ ratio: '0.800; rounds 0.72-0.91', met: 'yes' });
    // 10,000 / 13,000 and 14,000 / 15,000
    expect(t.find((r) => r.figure.startsWith('processor orders/s (1 process'))?.ratio).toBe('0.800; rounds 0.77-0.93');
  });
});

describe('scale-out figures', () => {
  const c = (processors: number, paymentMs: string, ordersPerSecond: number, extra = {}) => ({
    processors,
    paymentMs,
    partitions: 12,
    ordersPerSecond,
    drained: true,
    machineBusy: 0.5,
    processorBusy: 0.25,
    processorCpuMsPerOrder: 0.2,
    cpuSeconds: { processors: 1, redisCluster: 0.5, kafka3: 0.7, bench: 0.1, other: 0.05 },
    busyBefore: 0.02,
    redisPerOrder: { scriptCalls: 2.01, scriptUsec: 30.5, commands: 9.4 },
    seconds: 3,
    load: 0.4,
    ...extra,
  });
  const result = {
    ceiling: { before: 20_000, after: 30_000 },
    processors: [c(1, '0-1', 1000), c(2, '0-1', 1100), c(1, '20-50', 400), c(2, '20-50', 800)],
    hotProcessor: [
      c(1, '0-1', 1200, { buckets: 1, oversold: 0, strandedSoldOut: 0 }),
      c(1, '0-1', 300, { buckets: 4, oversold: 0, strandedSoldOut: 0 }),
    ],
    hotLibrary: [
      { buckets: 1, reservesPerSecond: 800, oversold: 0, machineBusy: 1 },
      { buckets: 4, reservesPerSecond: 1000, oversold: 0, machineBusy: 1 },
    ],
  };

  it('grows each case against the first of its group and divides by the mean ceiling', () => {
    expect(soCeiling(result)).toBe(25_000);
    expect(
      growth(
        result.processors,
        (x) => x.paymentMs,
        (x) => x.ordersPerSecond,
      ),
    ).toEqual([1, 1.1, 1, 2]);
    const t = scaleOutRows(result);
    const latency2 = t.find((r) => r.figure.startsWith('scale-out: 2 processor(s), payment 20-50'));
    expect(latency2).toMatchObject({ ratio: '0.032', met: 'yes' });
    expect(latency2?.value).toMatch(/x2\.00 of 1 processor/);
    expect(t.find((r) => r.figure.startsWith('scale-out: 2 processor(s), payment 0-1'))?.met).toBe('**no**');
    const hot4 = t.find((r) => r.figure.includes('K = 4 bucket(s), through 1 processor'));
    expect(hot4?.met).toBe('**no**');
    expect(t.find((r) => r.figure.includes('K = 4 bucket(s), library level'))?.value).toMatch(/x1\.25 of K = 1/);
  });

  it('renders the CPU breakdown inside the generated section', () => {
    const text = renderSection({
      at: 't',
      command: 'make bench',
      git: 'commit abc',
      machine: { cpu: 'x', cores: 2, memoryGiB: 1, node: 'v24', platform: 'linux', loadAverage1m: 0.1 },
      machineAfter: { loadAverage1m: 0.2 },
      notes: {},
      rows: scaleOutRows(result),
      details: scaleOutDetails(result),
    });
    expect(text).toMatch(/^<!-- bench:begin/);
    expect(text).toMatch(/<!-- bench:end -->$/);
    expect(text).toContain('Code: commit abc.');
    // a results file from before steal was read: no sentence about it
    expect(text).not.toContain('steal');
    const withTicks = renderSection({
      at: 't',
      command: 'make bench',
      machine: { cpu: 'x', cores: 2, memoryGiB: 1, loadAverage1m: 0.1, ticks: { total: 1000, steal: 10 } },
      machineAfter: { loadAverage1m: 0.2, ticks: { total: 3000, steal: 510 } },
      notes: {},
      rows: [],
    });
    expect(withTicks).toContain("The host took 25.0 % of this VM's CPU time over the run (steal");
    expect(text).toContain(
      '| hot item, K = 4, 1 processor | 300 | 3.00 | 50 % (2 %) | 25 % | 0.200 / 2.444 | 1.00 / 0.50 / 0.70 / 0.10 / 0.05 | 2.01 / 30.5 / 9.40 | 0.4 |',
    );
  });

  it('reads CPU ticks from /proc text and latency ranges', () => {
    const stat = '22209 (a (b) c) R 22207 22207 2392 0 -1 4194304 126 0 0 0 17 5 0 0 20 0 1 0 1557301';
    expect(procTicks(stat)).toBe(22);
    expect(machineTicks('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3')).toEqual({ busy: 150, total: 1000, steal: 0 });
    // the eighth field is steal: busy (the VM had work) but given to another guest by the host
    const t0 = machineTicks('cpu  100 0 50 800 50 0 0 40 0 0');
    const t1 = machineTicks('cpu  200 0 100 1500 50 0 0 190 0 0');
    expect(t0).toEqual({ busy: 190, total: 1040, steal: 40 });
    expect(stolenShare(t0, t1)).toBe(0.15);
    expect(stolenShare(t1, t1)).toBe(0);
    const a = commandStats(
      '# Commandstats\r\ncmdstat_evalsha:calls=10,usec=100,usec_per_call=10\r\ncmdstat_get:calls=5,usec=5',
    );
    const b = commandStats(
      'cmdstat_evalsha:calls=30,usec=500,usec_per_call=1\ncmdstat_get:calls=25,usec=9\ncmdstat_info:calls=9',
    );
    expect(perOrder(a, b, 10)).toEqual({ scriptCalls: 2, scriptUsec: 40, commands: 4 });
    expect(parseRange('20-50')).toEqual([20, 50]);
    expect(parseRange('5')).toEqual([5, 5]);
    expect(() => parseRange('x-1')).toThrow(/bad latency range/);
  });
});

describe('load-generator figures', () => {
  it("puts the generator beside autocannon and its offered rate over the gateway's accepted rate, target >= 2", () => {
    const t = loadRows({
      ceiling: {
        generator: [
          { workers: 1, requestsPerSecond: 12_000, cpuUsPerRequest: 40 },
          { workers: 2, requestsPerSecond: 10_000, cpuUsPerRequest: 55 },
        ],
        autocannon: { requestsPerSecond: 15_000, cpuUsPerRequest: 30 },
      },
      gateway: {
        flashsale: {
          acceptedPerSecond: 4000,
          oversold: 0,
          lost: 0,
          generatorCpuUsPerRequest: 60,
          gatewayCpuUsPerAccepted: 280,
        },
        autocannon: { acceptedPerSecond: 5000, cpuUsPerRequest: 35, gatewayCpuUsPerAccepted: 250 },
      },
      ratios: {
        offeredOverGatewayAccepted: 2.4,
        gatewayUnderLoadOverAutocannon: 0.8,
        generatorCpuOverGatewayCpu: 0.214,
      },
    });
    expect(t.filter((r) => r.figure.startsWith('load generator: requests/s')).map((r) => r.ratio)).toEqual([
      '0.80',
      '0.67',
    ]);
    expect(t.find((r) => r.target === '>= 2')).toMatchObject({ value: '12,000 / 5,000', ratio: '2.40', met: 'yes' });
    expect(t.find((r) => r.target === '0 / 0')).toMatchObject({ ratio: '0.80', met: 'yes' });
  });
});
