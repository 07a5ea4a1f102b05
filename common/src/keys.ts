/**
 * Redis key builders: the only place key names are spelled.
 *
 * Every key of one (sale, item) shares the hash tag `{<sale>:<item>}` so a Lua
 * script touching stock, holds, dedupe markers and order status of that item
 * runs on one Redis Cluster slot (no CROSSSLOT). Every key starts with the sale,
 * so several sales share one Redis safely.
 */
import { z } from 'zod';

/** Sale names follow Kubernetes object names (RFC 1123 label, shortened). */
export const saleNameSchema = z
  .string()
  .min(1)
  .max(53)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be lowercase letters, digits and "-" (an RFC 1123 label)');

/** Item ids may not contain `.`, `{`, `}` or `:` because those delimit order ids and hash tags. */
export const itemIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be 1-64 characters of letters, digits, "_" and "-"');

export const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be 1-128 printable ASCII characters without spaces');

const PREFIX = 'fs';

function itemTag(sale: string, item: string): string {
  return `${PREFIX}:{${sale}:${item}}`;
}

export type ItemKeys = Readonly<ReturnType<typeof buildItemKeys>>;
const MAX_CACHED_SALES = 64;
const MAX_CACHED_ITEMS = 10_000;
const itemKeysCache = new Map<string, Map<string, ItemKeys>>();

/** Keys of one item; all in one slot. Built once per item (the order paths ask for them several times per order). */
export const itemKeys = (sale: string, item: string): ItemKeys => {
  let bySale = itemKeysCache.get(sale);
  if (!bySale) {
    if (itemKeysCache.size >= MAX_CACHED_SALES) itemKeysCache.clear();
    bySale = new Map();
    itemKeysCache.set(sale, bySale);
  }
  let k = bySale.get(item);
  if (!k) {
    // items are checked against the sale before their keys are asked for, but a bound keeps any caller harmless
    if (bySale.size >= MAX_CACHED_ITEMS) bySale.clear();
    k = Object.freeze(buildItemKeys(sale, item));
    bySale.set(item, k);
  }
  return k;
};

function buildItemKeys(sale: string, item: string) {
  const t = itemTag(sale, item);
  return {
    /** remaining units (integer string) */
    stock: `${t}:stock`,
    /** hash: initial, confirmed, held, released, expired, restocked (unit counters for the audit) */
    meta: `${t}:meta`,
    /** sorted set: order_id scored by hold expiry (ms since epoch) */
    holds: `${t}:holds`,
    /** hash per order: status, user_id, quantity, reason, updated_at, ... (also the dedupe marker) */
    order: (orderId: string) => `${t}:order:${orderId}`,
    /** units a user holds or bought of this item (per-user limit) */
    user: (userId: string) => `${t}:user:${userId}`,
    /**
     * the `order-user` token bucket of a user ordering this item (string `<tokens> <ms>`, lua/order_admit.lua): in the
     * item's slot so admission is one script on one slot, hence per user and item
     */
    userBucket: (userId: string) => `${t}:rl-user:${userId}`,
    /** the stored 202 of an order Kafka acknowledged (string `<quantity> <body>`), replayed for IDEMPOTENCY_TTL */
    answer: (orderId: string) => `${t}:answer:${orderId}`,
    /** hash order id -> bucket: give-backs of a bucketed item settled but not yet returned (common/src/buckets.ts) */
    gives: `${t}:gives`,
    /**
     * the hold sweeper's lease on this item (`SET NX PX <SWEEP_INTERVAL>`, value: the holder's token): the first
     * processor of a tick sweeps the item, the others skip it until the lease expires (processor/src/housekeeping.ts)
     */
    sweepLease: `${t}:sweep-lease`,
  };
}

/**
 * Stock bucket `b` of a hot item (common/src/buckets.ts). Bucket 0 is the item's own `stock` key (so K = 1 is the
 * plain item); bucket b > 0 has the hash tag `{<sale>:<item>#<b>}`, another slot (`#` never occurs in an item id).
 */
export const bucketKeys = (sale: string, item: string, b: number) => {
  const t = b === 0 ? itemTag(sale, item) : `${PREFIX}:{${sale}:${item}#${b}}`;
  return {
    /** units left in this bucket */
    stock: `${t}:stock`,
    /** hash order id -> units the order took from this bucket (the idempotent take marker) */
    takes: `${t}:takes`,
  };
};

/** Sale-wide keys; hash tag `{<sale>}`. */
export const saleKeys = (sale: string) => {
  const t = `${PREFIX}:{${sale}}`;
  return {
    /** set of item ids seeded for the sale */
    items: `${t}:items`,
    /** hash: sale configuration snapshot written by the seeder (window, generation) */
    config: `${t}:config`,
    /** one processor per interval scans for stuck QUEUED orders (processor/src/stuck-orders.ts) */
    stuckSweepLease: `${t}:stuck-sweep-lease`,
  };
};

/** Token-bucket state of one limiter subject of lua/rate_limit.lua (the read routes' client IP); spread over slots. */
export const rateLimitKey = (sale: string, policy: string, subject: string) =>
  `${PREFIX}:{${sale}:rl:${policy}:${subject}}`;

/** Pub/sub channels. */
export const channels = (sale: string) => ({
  /** JSON {item_id, remaining} published when an item sells out or stock returns */
  stock: `${PREFIX}:${sale}:stock-events`,
  /** JSON {order_id, status} published on every order status change */
  status: `${PREFIX}:${sale}:status-events`,
});

/** Glob of every order record of a sale, all items (the stuck-order sweeper's SCAN; item ids hold no `:{}`). */
export const orderKeyGlob = (sale: string) => `${PREFIX}:{${sale}:*}:order:*`;

/** Glob that matches every key of a sale (for deletion with SCAN; never KEYS). */
export const saleKeyPatterns = (sale: string) => [`${PREFIX}:{${sale}:*`, `${PREFIX}:{${sale}}:*`];

/** One glob for both of `saleKeyPatterns` (one SCAN pass instead of two; sale names hold no glob characters). */
export const saleKeyGlob = (sale: string) => `${PREFIX}:{${sale}[:}]*`;
