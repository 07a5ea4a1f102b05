/**
 * Invalid FlashSale manifests, generated from examples/flashsale.yaml by setting one field to a wrong value:
 * - the CLI's validation (what `flashsale up` runs first) refuses every one with a ManifestError naming that field
 *   (2,000 cases in-process), never another exception; the real `flashsale up` exits 2 with the field, no stack trace;
 * - the real API server (server-side dry run against the CRD from crds/) refuses them too, naming the field.
 * (cli/test/cli-usage.test.ts and operator/test/policies.test.ts cover single hand-written cases.)
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ManifestError, parseManifest } from '../../cli/src/manifest.ts';
import { FLASHSALE, runCli } from '../../cli/test/support.ts';
import { run } from '../packaging/support.ts';
import { ROOT } from '../support/procs.ts';
import { requireService } from '../support/services.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are plain YAML trees here
type Any = any;
let example: Any;

/** One wrong value per field path: [path, wrong values] (refused by the schema and by the CRD alike). */
const MUTATIONS: [(string | number)[], unknown[]][] = [
  [
    ['spec', 'items', 0, 'quantity'],
    [-1, 'ten', 1.5, 1e12, null],
  ],
  [
    ['spec', 'items', 0, 'id'],
    ['a b', '', 'x'.repeat(100), 'a.b', '{x}', 7],
  ],
  [
    ['spec', 'items', 0, 'perUserLimit'],
    [-2, 'one'],
  ],
  [
    ['spec', 'items'],
    [[], 'all', [{ id: 'x' }]],
  ],
  [
    ['spec', 'startsAt'],
    ['yesterday', 123, '2026-13-45T99:00:00Z'],
  ],
  [
    ['spec', 'redis', 'addr'],
    ['nohostport', 'a b:1', ''],
  ],
  [
    ['spec', 'redis', 'mode'],
    ['sentinel', 3],
  ],
  [
    ['spec', 'kafka', 'brokers'],
    ['', 'kafka', 'k:99999999'],
  ],
  [
    ['spec', 'topics', 'partitions'],
    [0, -3, 100_000, 'six'],
  ],
  [
    ['spec', 'topics', 'retention'],
    ['forever', '-1h'],
  ],
  [
    ['spec', 'processor', 'payment', 'failureRate'],
    [2, -0.1, 'high'],
  ],
  [
    ['spec', 'processor', 'holdTtl'],
    ['5 minutes', 'x'],
  ],
  [
    ['spec', 'gateway', 'rateLimit', 'maxRequests'],
    [-5, 0.5, 'lots'],
  ],
  [
    ['spec', 'gateway', 'circuitBreaker', 'failureThreshold'],
    [0, -1],
  ],
  [
    ['spec', 'autoscaling', 'gateway', 'minReplicas'],
    [-1, 'two'],
  ],
  [
    ['spec', 'deletionPolicy'],
    ['Shred', 1],
  ],
  [['spec', 'upgradeStrategy', 'type'], ['YOLO']],
  [
    ['spec', 'gateway', 'trustedProxies'],
    [['ingress.example.com'], '10.0.0.0/8', [7], ['10.0.0.0/8/8']],
  ],
  [
    ['spec', 'gateway', 'identity', 'source'],
    ['cookie', 3],
  ],
  // CEL on the API server, refinements in the CLI: jwt needs its settings, and exactly one key source
  [
    ['spec', 'gateway', 'identity'],
    [{ source: 'jwt' }, { source: 'header', header: 'a header' }],
  ],
  [['spec', 'gateway', 'identity'], [{ source: 'jwt', jwt: { issuer: 'i', audience: 'a' } }]],
  [
    ['metadata', 'name'],
    ['Bad_Name', '', 'x'.repeat(80)],
  ],
];

function mutate(path: (string | number)[], value: unknown): Any {
  const doc = structuredClone(example);
  let o = doc;
  // a parent the example leaves out (gateway.identity) is created
  for (const p of path.slice(0, -1)) o = o[p] ??= {};
  o[path.at(-1)!] = value;
  return doc;
}

/** "spec.items[0].quantity" for ['spec','items',0,'quantity'] (the CLI's field path style). */
const dotted = (path: (string | number)[]) =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');

beforeAll(async () => {
  example = parse(await readFile(join(ROOT, 'examples', 'flashsale.yaml'), 'utf8'));
});

const cases = fc.constantFrom(...MUTATIONS.flatMap(([path, values]) => values.map((v) => [path, v] as const)));

describe('invalid FlashSale manifests', () => {
  it('the CLI refuses 2,000 generated invalid manifests, each naming the field at fault, never crashing', () => {
    // the example itself is valid
    expect(parseManifest(stringify(example)).metadata.name).toBe('black-friday');
    fc.assert(
      fc.property(cases, fc.boolean(), ([path, value], asJson) => {
        const doc = mutate([...path], value);
        const text = asJson ? JSON.stringify(doc) : stringify(doc);
        let err: unknown;
        try {
          parseManifest(text, 'fuzz.yaml');
        } catch (e) {
          err = e;
        }
        expect(err, `${dotted([...path])} = ${JSON.stringify(value)} was accepted`).toBeInstanceOf(ManifestError);
        const problems = (err as ManifestError).problems.join('\n');
        // names the field (or, for a whole list/object replaced, its parent)
        const want = dotted([...path]);
        expect(problems.includes(want) || problems.includes(dotted(path.slice(0, -1))), problems).toBe(true);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('`flashsale up` exits 2 naming the field, without a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-manifest-'));
    for (const [path, value] of [
      [['spec', 'items', 0, 'quantity'], -1],
      [['spec', 'topics', 'partitions'], 0],
      [['spec', 'kafka', 'brokers'], 'kafka'],
    ] as const) {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, stringify(mutate([...path], value)));
      const r = await runCli(FLASHSALE, ['up', '-f', file, '--redis', '127.0.0.1:1', '--kafka', '127.0.0.1:1']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(dotted([...path]));
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    }
  }, 60_000);

  it('the API server refuses them too (server-side dry run against the CRD), naming the field', async () => {
    const { kubectl, kubeconfig } = requireService('kube');
    const k = (args: string[], input?: string) =>
      run(kubectl, ['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });
    const crd = await k(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, 'crds')]);
    expect(crd.code, crd.stderr).toBe(0);
    await k(['wait', '--for=condition=Established', 'crd/flashsales.flashsale.dev', '--timeout=30s']);
    const valid = await k(['create', '--dry-run=server', '-f', '-'], JSON.stringify(example));
    expect(valid.code, valid.stderr).toBe(0);
    const disagree: string[] = [];
    // one wrong value per field (the first), each through the API server
    for (const [path, values] of MUTATIONS) {
      const r = await k(['create', '--dry-run=server', '-f', '-'], JSON.stringify(mutate(path, values[0])));
      const field = String(path.at(-1));
      if (r.code === 0 || !r.stderr.includes(field)) disagree.push(`${dotted(path)}: ${r.code} ${r.stderr.trim()}`);
    }
    expect(disagree).toEqual([]);
  }, 90_000);
});
