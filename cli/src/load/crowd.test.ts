import { describe, expect, it } from 'vitest';
import { planCrowd } from './crowd.ts';
import { LOAD_DEFAULTS, loadOptionsSchema } from './options.ts';
import { Samples } from './stats.ts';

const opts = (over: Partial<typeof LOAD_DEFAULTS> = {}) =>
  loadOptionsSchema.parse({ ...LOAD_DEFAULTS, url: 'http://127.0.0.1:8080', ...over });

describe('planCrowd', () => {
  it('plans exactly the requested attempts over the requested users, inside the ramp', () => {
    const crowd = planCrowd(opts({ users: 300, attempts: 1000, rampSeconds: 2 }), ['a', 'b'], 'r');
    expect(crowd.length).toBe(300);
    expect(crowd.reduce((n, a) => n + a.attempts.length, 0)).toBe(1000);
    expect(crowd.every((a) => a.at >= 0 && a.at <= 2000)).toBe(true);
    expect(crowd.map((a) => a.at)).toEqual([...crowd.map((a) => a.at)].sort((x, y) => x - y));
  });

  it('gives retriers repeats with the same key and body, and everyone else fresh keys', () => {
    const crowd = planCrowd(opts({ users: 1000, attempts: 4000, retryShare: 0.3, botShare: 0.1 }), ['a', 'b'], 'r');
    const all = crowd.flatMap((a) => a.attempts);
    const repeats = all.filter((a) => a.repeat);
    expect(repeats.length).toBeGreaterThan(0);
    expect(repeats.every((a) => a.persona === 'retrier')).toBe(true);
    const fresh = all.filter((a) => !a.repeat).map((a) => a.key);
    expect(new Set(fresh).size).toBe(fresh.length);
    const bots = crowd.filter((a) => a.persona === 'bot').length;
    expect(bots).toBeGreaterThan(50);
    expect(bots).toBeLessThan(150);
  });

  it('is repeatable for a seed and aims the hot share at the first item', () => {
    const o = opts({ users: 500, attempts: 5000, hotShare: 0.8, retryShare: 0 });
    const a = planCrowd(o, ['hot', 'x', 'y', 'z'], 'r');
    expect(planCrowd(o, ['hot', 'x', 'y', 'z'], 'r')).toEqual(a);
    const hot = a.flatMap((u) => u.attempts).filter((t) => t.item === 'hot').length;
    expect(hot / 5000).toBeGreaterThan(0.8);
  });

  it('refuses a sale without items and options that do not add up', () => {
    expect(() => planCrowd(opts(), [], 'r')).toThrow(/no items/);
    expect(loadOptionsSchema.safeParse({ ...LOAD_DEFAULTS, url: 'nope' }).success).toBe(false);
    const r = loadOptionsSchema.safeParse({ ...LOAD_DEFAULTS, url: 'http://x', retryShare: 0.8, botShare: 0.5 });
    expect(r.success).toBe(false);
  });
});

describe('Samples', () => {
  it('computes exact percentiles', () => {
    const s = new Samples();
    for (let i = 1; i <= 2000; i++) s.add(i);
    const sum = s.summary();
    expect(sum.p50).toBe(1000);
    expect(sum.p99).toBe(1980);
    expect(sum.max).toBe(2000);
    expect(s.count).toBe(2000);
  });
});

describe('planCrowd weights and bots', () => {
  it('spreads attempts in proportion to item weights (stock)', () => {
    const crowd = planCrowd(opts({ users: 2000, attempts: 20_000 }), ['big', 'small'], 'r', [900, 100]);
    const all = crowd.flatMap((a) => a.attempts);
    const big = all.filter((a) => a.item === 'big').length / all.length;
    expect(big).toBeGreaterThan(0.85);
    expect(big).toBeLessThan(0.95);
  });

  it('gives bots botWeight times the attempts of a person, from a few shared IPs', () => {
    const crowd = planCrowd(opts({ users: 1000, attempts: 10_000, botShare: 0.05, botWeight: 20 }), ['a'], 'r');
    const bots = crowd.filter((a) => a.persona === 'bot');
    const people = crowd.filter((a) => a.persona !== 'bot');
    const mean = (xs: typeof crowd) => xs.reduce((n, a) => n + a.attempts.length, 0) / xs.length;
    expect(mean(bots) / mean(people)).toBeGreaterThan(8);
    expect(new Set(bots.map((b) => b.attempts[0]?.ip)).size).toBeLessThanOrEqual(8);
    expect(new Set(people.map((p) => p.attempts[0]?.ip)).size).toBe(people.length);
  });
});
