/**
 * Work asked for during one turn of the event loop, grouped by key (an item: one Redis slot, one script call) and
 * handed over once per key when the scheduler fires: the gateway's admissions and stored answers, the processor's
 * settles. The scheduler says when: `process.nextTick` runs before ioredis writes its auto-pipeline, `setImmediate`
 * after the turn's I/O callbacks (every request or payment that arrived in the turn is in).
 */
export class TurnBatch<T> {
  private pending = new Map<string, T[]>();
  private scheduled = false;
  private readonly schedule: (run: () => void) => void;
  private readonly flush: (key: string, values: T[]) => void;

  constructor(schedule: (run: () => void) => void, flush: (key: string, values: T[]) => void) {
    this.schedule = schedule;
    this.flush = flush;
  }

  add(key: string, value: T): void {
    const list = this.pending.get(key);
    if (list) list.push(value);
    else this.pending.set(key, [value]);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [key, values] of batches) this.flush(key, values);
  };
}

/** A caller's share of a batched call: its input, and how its promise settles. */
export interface Waiter<I, R> {
  input: I;
  resolve(result: R): void;
  reject(e: unknown): void;
}

/** Queue `input` under `key`; the promise settles with its own result of the key's call. */
export function waitInBatch<I, R>(batch: TurnBatch<Waiter<I, R>>, key: string, input: I): Promise<R> {
  return new Promise((resolve, reject) => batch.add(key, { input, resolve, reject }));
}

/** One call for many waiters: waiter i gets result i; a call that fails fails every waiter of it. */
export function answerWaiters<I, R>(waiters: Waiter<I, R>[], call: (inputs: I[]) => Promise<R[]>): void {
  let results: Promise<R[]>;
  try {
    results = call(waiters.map((w) => w.input));
  } catch (e) {
    results = Promise.reject(e);
  }
  results.then(
    (results) => {
      for (const [i, w] of waiters.entries()) w.resolve(results[i] as R);
    },
    (e: unknown) => {
      for (const w of waiters) w.reject(e);
    },
  );
}
