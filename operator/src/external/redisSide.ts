/**
 * The Redis side of a sale, for the operator: one client per distinct connection (shared by reconciles), inventory
 * seeding over each item's stock buckets (exactly once per item, later quantity changes as deltas, sold and held units
 * never overwritten, a bucket-count change refused), the audit read for the status, and deletion of every key of a
 * sale (SCAN + UNLINK).
 */
import {
  auditItemsOverBuckets,
  createRedis,
  deleteSaleKeys,
  type FlashSaleSpec,
  type ItemAudit,
  type ItemSeedOutcome,
  parseAddrList,
  type RedisClient,
  seedSpecItems,
} from '@flashsale/common';

export interface RedisCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /** CA bundle (PEM) from `spec.redis.tls.caSecretRef`, kept in memory only */
  ca?: string | undefined;
}

export class RedisPool {
  private readonly clients = new Map<string, RedisClient>();
  private readonly commandTimeoutMs: number;

  constructor(commandTimeoutMs = 3000) {
    this.commandTimeoutMs = commandTimeoutMs;
  }

  get(spec: FlashSaleSpec['redis'], creds: RedisCredentials): RedisClient {
    const key = JSON.stringify([
      spec.mode,
      spec.addr,
      spec.tls.enabled,
      spec.tls.insecureSkipVerify,
      creds.ca,
      creds.username,
      creds.password,
    ]);
    let c = this.clients.get(key);
    if (!c) {
      c = createRedis(
        {
          mode: spec.mode,
          nodes: parseAddrList(spec.addr, 'spec.redis.addr'),
          username: creds.username,
          password: creds.password,
          tls: { enabled: spec.tls.enabled, ca: creds.ca, insecureSkipVerify: spec.tls.insecureSkipVerify },
        },
        {
          commandTimeout: this.commandTimeoutMs,
          connectTimeout: this.commandTimeoutMs,
          maxRetriesPerRequest: 1,
          // fail fast instead of queueing commands while disconnected: the reconcile reports and retries
          enableOfflineQueue: true,
          lazyConnect: false,
        },
      );
      c.on('error', () => undefined);
      this.clients.set(key, c);
    }
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.quit().catch(() => c.disconnect())));
    this.clients.clear();
  }
}

/** Every item over its stockBuckets (common/src/seed-items.ts); an item seeded with another K comes back refused. */
export function seedInventoryItems(
  r: RedisClient,
  sale: string,
  items: FlashSaleSpec['items'],
): Promise<ItemSeedOutcome[]> {
  return seedSpecItems(r, sale, items);
}

/** Per-item audit for the status; a bucketed item's remaining is the sum over its buckets. */
export function readInventory(r: RedisClient, sale: string, ids: string[]): Promise<ItemAudit[]> {
  return auditItemsOverBuckets(r, sale, ids);
}

/** Moved to @flashsale/common (sale-cleanup.ts), shared with the CLI. */
export { deleteSaleKeys };
