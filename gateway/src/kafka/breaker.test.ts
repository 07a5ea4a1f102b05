import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BreakerOpenError, type BreakerState, ExponentialBreaker } from './breaker.ts';

// fake timers: the open periods pass at once (opossum's reset timers and Date both follow the fake clock)
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
const pass = (ms: number) => vi.advanceTimersByTimeAsync(ms);

function make(base = 40, max = 150) {
  let fail = true;
  const b = new ExponentialBreaker<[], string>(
    async () => {
      if (fail) throw new Error('broker down');
      return 'ok';
    },
    { failureThreshold: 5, successThreshold: 2, baseTimeoutMs: base, maxTimeoutMs: max, callTimeoutMs: 1000 },
  );
  const states: [BreakerState, number | undefined][] = [];
  b.on('state', (s, info) => states.push([s, info.openForMs]));
  return {
    b,
    states,
    setFail: (v: boolean) => {
      fail = v;
    },
  };
}

const attempt = (b: ExponentialBreaker<[], string>) =>
  b.fire().then(
    () => 'ok',
    (e) => (e instanceof BreakerOpenError ? 'open' : 'fail'),
  );

describe('ExponentialBreaker (opossum underneath)', () => {
  it('opens after 5 consecutive failures, not after 4 with a success between', async () => {
    const { b, setFail } = make();
    for (let i = 0; i < 4; i++) expect(await attempt(b)).toBe('fail');
    setFail(false);
    expect(await attempt(b)).toBe('ok');
    setFail(true);
    for (let i = 0; i < 4; i++) expect(await attempt(b)).toBe('fail');
    expect(b.state).toBe('closed');
    expect(await attempt(b)).toBe('fail');
    expect(b.state).toBe('open');
    expect(b.stateValue).toBe(1);
    expect(await attempt(b)).toBe('open');
    expect(b.retryAfterMs).toBeGreaterThan(0);
    b.shutdown();
  });

  it('half-opens after the open period, closes after 2 successes, and grows the period exponentially to the cap', async () => {
    const { b, states, setFail } = make(40, 150);
    for (let i = 0; i < 5; i++) await attempt(b);
    expect(states.at(-1)).toEqual(['open', 40]);
    await pass(39);
    expect(b.state).toBe('open'); // not a millisecond early
    await pass(1);
    expect(b.state).toBe('half-open');
    expect(b.stateValue).toBe(2);
    // the trial fails: open again for twice as long
    expect(await attempt(b)).toBe('fail');
    expect(states.at(-1)).toEqual(['open', 80]);
    await pass(250);
    expect(await attempt(b)).toBe('fail');
    expect(states.at(-1)).toEqual(['open', 150]); // 160 capped at 150
    await pass(400);
    setFail(false);
    expect(await attempt(b)).toBe('ok');
    expect(b.state).toBe('half-open'); // one success is not enough
    expect(await attempt(b)).toBe('ok');
    expect(b.state).toBe('closed');
    // after closing, the next open period starts from the base again
    setFail(true);
    for (let i = 0; i < 5; i++) await attempt(b);
    expect(states.at(-1)).toEqual(['open', 40]);
    b.shutdown();
  });

  it('re-opens when a call fails after the trial succeeded but before the success threshold', async () => {
    const { b, states, setFail } = make(30, 1000);
    for (let i = 0; i < 5; i++) await attempt(b);
    await pass(120);
    setFail(false);
    expect(await attempt(b)).toBe('ok');
    setFail(true);
    expect(await attempt(b)).toBe('fail');
    expect(b.state).toBe('open');
    expect(states.at(-1)).toEqual(['open', 60]);
    b.shutdown();
  });
});
