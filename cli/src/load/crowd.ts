/**
 * The crowd: who sends what and when. Pure and seeded, so a run can be repeated.
 * A user arrives at one moment, then sends their attempts back to back; a retrier repeats
 * its previous request with the same idempotency key (a double click or a client retry);
 * a bot fires all its attempts at once with fresh keys.
 */
import type { LoadOptions } from './options.ts';

export type Persona = 'shopper' | 'retrier' | 'bot';

export interface Attempt {
  user: string;
  persona: Persona;
  item: string;
  key: string;
  /** true when this attempt repeats the previous one of the user (same key and body) */
  repeat: boolean;
}

export interface Arrival {
  /** ms after the start */
  at: number;
  persona: Persona;
  attempts: Attempt[];
}

/** mulberry32: small, fast, good enough for load shapes */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function planCrowd(o: LoadOptions, items: string[], runId: string): Arrival[] {
  if (items.length === 0) throw new Error('no items to order: the sale lists none and --items is empty');
  const rand = rng(o.seed);
  const pickItem = () => {
    if (items.length > 1 && rand() < o.hotShare) return items[0] as string;
    return items[Math.floor(rand() * items.length)] as string;
  };
  const perUser = Math.floor(o.attempts / o.users);
  let extra = o.attempts - perUser * o.users;
  const arrivals: Arrival[] = [];
  let poissonClock = 0;
  const rate = o.rampSeconds > 0 ? o.users / (o.rampSeconds * 1000) : Number.POSITIVE_INFINITY;
  for (let u = 0; u < o.users; u++) {
    const r = rand();
    const persona: Persona = r < o.botShare ? 'bot' : r < o.botShare + o.retryShare ? 'retrier' : 'shopper';
    const n = perUser + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
    if (n === 0) continue;
    const user = `u-${runId}-${u}`;
    const attempts: Attempt[] = [];
    for (let i = 0; i < n; i++) {
      const prev = attempts[attempts.length - 1];
      if (prev && persona === 'retrier' && i % 2 === 1) {
        attempts.push({ ...prev, repeat: true });
      } else {
        attempts.push({ user, persona, item: pickItem(), key: `${runId}-${u}-${i}`, repeat: false });
      }
    }
    let at: number;
    if (o.arrival === 'burst') at = rand() * o.rampSeconds * 1000;
    else if (o.arrival === 'ramp') at = (u / o.users) * o.rampSeconds * 1000;
    else {
      poissonClock += Number.isFinite(rate) ? -Math.log(1 - rand()) / rate : 0;
      at = poissonClock;
    }
    arrivals.push({ at, persona, attempts });
  }
  return arrivals.sort((a, b) => a.at - b.at);
}
