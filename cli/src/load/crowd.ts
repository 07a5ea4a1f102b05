/**
 * The crowd: who sends what and when. Pure and seeded, so a run can be repeated.
 * A user arrives at one moment, then sends their attempts back to back; a retrier repeats
 * its previous request with the same idempotency key (a double click or a client retry);
 * a bot fires all its attempts at once with fresh keys, sends `botWeight` times a person's share of attempts and
 * shares its client address with other bots (a few IPs), so the per-user and per-IP rate limits see it.
 * Each user has a client IP, sent as X-Forwarded-For (the local gateway trusts loopback as a proxy).
 */
import type { LoadOptions } from './options.ts';

export type Persona = 'shopper' | 'retrier' | 'bot';

export interface Attempt {
  user: string;
  persona: Persona;
  item: string;
  key: string;
  /** client address the gateway sees (X-Forwarded-For) */
  ip: string;
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

/**
 * `weights` (optional, one per item, e.g. the stock) makes an item's share of the non-hot attempts proportional to
 * its weight instead of even.
 */
export function planCrowd(o: LoadOptions, items: string[], runId: string, weights?: number[]): Arrival[] {
  if (items.length === 0) throw new Error('no items to order: the sale lists none and --items is empty');
  const rand = rng(o.seed);
  const cumulative: number[] = [];
  let acc = 0;
  for (let i = 0; i < items.length; i++) {
    acc += Math.max(0, weights?.[i] ?? 1);
    cumulative.push(acc);
  }
  const pickItem = () => {
    if (items.length > 1 && rand() < o.hotShare) return items[0] as string;
    if (!weights || acc <= 0) return items[Math.floor(rand() * items.length)] as string;
    const x = rand() * acc;
    const i = cumulative.findIndex((c) => x < c);
    return items[i < 0 ? items.length - 1 : i] as string;
  };
  const personas: Persona[] = [];
  for (let u = 0; u < o.users; u++) {
    const r = rand();
    personas.push(r < o.botShare ? 'bot' : r < o.botShare + o.retryShare ? 'retrier' : 'shopper');
  }
  // attempts per user: one each (when there are enough), the rest in proportion to weight (bots hammer)
  const base = o.attempts >= o.users ? 1 : 0;
  const rest = o.attempts - base * o.users;
  const weight = (p: Persona) => (p === 'bot' ? o.botWeight : 1);
  const totalWeight = personas.reduce((n, p) => n + weight(p), 0);
  const counts = personas.map((p) => base + Math.floor((rest * weight(p)) / totalWeight));
  let extra = o.attempts - counts.reduce((n, c) => n + c, 0);
  for (let u = 0; extra > 0; u = (u + 1) % o.users, extra--) counts[u] = (counts[u] ?? 0) + 1;
  const arrivals: Arrival[] = [];
  let poissonClock = 0;
  const rate = o.rampSeconds > 0 ? o.users / (o.rampSeconds * 1000) : Number.POSITIVE_INFINITY;
  for (let u = 0; u < o.users; u++) {
    const persona = personas[u] as Persona;
    const n = counts[u] ?? 0;
    if (n === 0) continue;
    const user = `u-${runId}-${u}`;
    const ip = persona === 'bot' ? `10.255.0.${1 + (u % 8)}` : `10.${(u >> 16) & 255}.${(u >> 8) & 255}.${u & 255}`;
    const attempts: Attempt[] = [];
    for (let i = 0; i < n; i++) {
      const prev = attempts[attempts.length - 1];
      if (prev && persona === 'retrier' && i % 2 === 1) {
        attempts.push({ ...prev, repeat: true });
      } else {
        attempts.push({ user, persona, item: pickItem(), key: `${runId}-${u}-${i}`, ip, repeat: false });
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
