/**
 * Where the processor reads the time of holds (a reserve's expiry, a confirm's or release's check) and of their sweep:
 * the wall clock, or a test's (StartOptions.clock), so a test can let a hold's TTL pass without waiting for it.
 * Durations the processor measures (latencies, timeouts, timers) stay on the real clock.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
