import { describe, expect, it } from 'vitest';
import { DriftStreaks } from './drift-streaks.ts';

describe('DriftStreaks', () => {
  it('logs nothing for no drift', () => {
    expect(new DriftStreaks().level('a', 0, 0)).toBeUndefined();
  });

  it('warns while a drift is younger than errorAfterMs, errs once it has lasted that long', () => {
    const s = new DriftStreaks(60_000);
    expect(s.level('a', 2, 1_000)).toBe('warn');
    expect(s.level('a', -1, 30_000)).toBe('warn');
    expect(s.level('a', 2, 60_999)).toBe('warn');
    expect(s.level('a', 2, 61_000)).toBe('error');
  });

  it('starts again after an audit without drift, and times each item apart', () => {
    const s = new DriftStreaks(10);
    expect(s.level('a', 1, 0)).toBe('warn');
    expect(s.level('b', 1, 5)).toBe('warn');
    expect(s.level('a', 0, 10)).toBeUndefined();
    expect(s.level('a', 1, 12)).toBe('warn');
    expect(s.level('b', 1, 15)).toBe('error');
  });
});
