import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './duration.ts';

describe('parseDurationMs', () => {
  it('reads the runbook forms', () => {
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('1m')).toBe(60_000);
    expect(parseDurationMs('300ms')).toBe(300);
    expect(parseDurationMs('2')).toBe(2000);
  });
  it('names bad input', () => {
    expect(() => parseDurationMs('soon')).toThrow(/"soon" is not a duration/);
  });
});
