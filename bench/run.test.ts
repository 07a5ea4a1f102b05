import { describe, expect, it } from 'vitest';
import { lastJson, rows } from './run.ts';

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
    expect(gw).toMatchObject({ ratio: '0.300', met: '**no**' });
    expect(t.find((r) => r.figure === 'processor benchmark')?.value).toMatch(/failed: exit 1/);
    expect(t.find((r) => r.figure === 'end-to-end benchmark')?.value).toBe('not run');
  });
});
