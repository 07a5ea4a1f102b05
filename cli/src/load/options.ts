/** Options of `flashsale load`, validated once; errors name the option. */
import { z } from 'zod';

export const ARRIVALS = ['burst', 'ramp', 'poisson'] as const;

export const loadOptionsSchema = z
  .object({
    url: z.url({ message: '--url must be an http(s) URL of the gateway' }),
    users: z.number().int().min(1).max(5_000_000),
    attempts: z.number().int().min(1).max(20_000_000),
    /** how users arrive: all within `rampSeconds` (burst), evenly over it (ramp), or as a Poisson stream */
    arrival: z.enum(ARRIVALS),
    rampSeconds: z.number().min(0).max(3600),
    /** upper bound on requests in flight (= HTTP connections for orders; SSE followers have their own) */
    concurrency: z.number().int().min(1).max(10_000),
    /** threads driving the crowd (each a share of the users and of the connections) */
    workers: z.number().int().min(1).max(64),
    /** share of users who repeat a request with the same idempotency key */
    retryShare: z.number().min(0).max(1),
    /** share of users that are bots sending all their attempts at once, ignoring Retry-After */
    botShare: z.number().min(0).max(1),
    /** a bot sends this many times a person's share of the attempts */
    botWeight: z.number().int().min(1).max(10_000),
    /** share of accepted orders followed over SSE to their final status */
    sseShare: z.number().min(0).max(1),
    /** share of attempts aimed at the first item (a hot item); the rest spread evenly */
    hotShare: z.number().min(0).max(1),
    quantity: z.number().int().min(1).max(100),
    /** how attempts spread over items: evenly, or in proportion to each item's remaining stock */
    spread: z.enum(['even', 'stock']),
    /** items to order; empty: ask the gateway's GET /v1/sale */
    items: z.array(z.string().min(1)),
    /** seconds to wait after the burst for every accepted order to reach a final status */
    settleSeconds: z.number().min(0).max(3600),
    /** hard stop for the whole run */
    maxSeconds: z.number().min(1).max(7200),
    seed: z.number().int(),
  })
  .refine((o) => o.retryShare + o.botShare <= 1, { message: '--retry-share plus --bot-share must be at most 1' });

export type LoadOptions = z.infer<typeof loadOptionsSchema>;

export const LOAD_DEFAULTS: Omit<LoadOptions, 'url'> = {
  users: 2000,
  attempts: 10_000,
  arrival: 'burst',
  rampSeconds: 1,
  concurrency: 128,
  workers: 1,
  retryShare: 0.1,
  botShare: 0.02,
  botWeight: 20,
  sseShare: 0.05,
  hotShare: 0,
  quantity: 1,
  spread: 'even',
  items: [],
  settleSeconds: 60,
  maxSeconds: 600,
  seed: 42,
};
