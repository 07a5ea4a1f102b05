/**
 * The one module of the tests (and benchmarks) for waiting and ports. A test waits for a condition, never for the
 * clock: `eventually` polls until the condition holds; `expectStable` asserts that nothing happens for a stated time
 * (the only place a test may spend a second or more without a condition); `sleep` is for pacing shorter than that.
 * No vitest import: bench/ and tools/ use it too.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const describe = (v: unknown) => (v instanceof Error ? v.message : JSON.stringify(v));

/**
 * Polls `check` every `everyMs` until it returns a truthy value, and returns that value; a throw counts as "not yet".
 * After `timeoutMs` it fails naming `what` and the last value or error seen.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`);
    }
    await sleep(everyMs);
  }
}

/**
 * Asserts that `check` keeps holding for `ms`: it runs every `everyMs` (first at once, last at the end) and fails
 * the test the first time it throws (an `expect` inside it) or returns `false`. For "nothing happens for a while".
 */
export async function expectStable(check: () => unknown | Promise<unknown>, ms: number, everyMs = 250): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const elapsed = Date.now() - t0;
    let v: unknown;
    try {
      v = await check();
    } catch (e) {
      if (e instanceof Error) e.message = `changed after ${elapsed} ms of the ${ms} ms it had to hold: ${e.message}`;
      throw e;
    }
    if (v === false) throw new Error(`changed after ${elapsed} ms of the ${ms} ms it had to hold`);
    if (elapsed >= ms) return;
    await sleep(Math.min(everyMs, Math.max(0, ms - (Date.now() - t0))));
  }
}

/** Whether a loopback port can be listened on right now. */
async function bindable(port: number, host: string): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => resolve(true));
  });
  if (ok) {
    srv.close();
    await once(srv, 'close');
  }
  return ok;
}

/**
 * `count` consecutive loopback ports nobody listens on right now (`flashsale up --metrics-port P` gives processor i
 * the port P + i). Taken below the kernel's ephemeral range (32768-60999) and above the harness's fixed ports: a port
 * from `freePort` is an ephemeral one, and the next one up can be any outgoing connection's local port by the time a
 * processor listens on it (a CI run's processor-1 failed with EADDRINUSE so).
 */
export async function freePortRun(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 28_000 + Math.floor(Math.random() * (2_000 - count));
    let all = true;
    for (let i = 0; i < count && all; i++) all = await bindable(base + i, host);
    if (all) return base;
  }
  throw new Error(`no ${count} consecutive free ports in 28000-29999 on ${host}`);
}

/** A loopback port nobody listens on right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}
