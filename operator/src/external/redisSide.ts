/**
 * The Redis side of a sale, for the operator: one client per distinct connection (shared by reconciles), inventory
 * seeding through the Lua seed script (exactly once per item, later quantity changes as deltas, sold and held units
 * never overwritten), the audit read for the status, and deletion of every key of a sale (SCAN + UNLINK).
 */
import {
  auditSale,
  createRedis,
  deleteSaleKeys,
  type FlashSaleSpec,
  type ItemAudit,
  parseAddrList,
  type RedisClient,
  type SeedResult,
  seedItem,
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

export async function seedInventoryItems(
  r: RedisClient,
  sale: string,
  items: FlashSaleSpec['items'],
): Promise<(SeedResult & { id: string })[]> {
  const out: (SeedResult & { id: string })[] = [];
  for (const it of items) {
    out.push({ id: it.id, ...(await seedItem(r, sale, it.id, it.quantity, it.perUserLimit)) });
  }
  return out;
}

export function readInventory(r: RedisClient, sale: string, ids: string[]): Promise<ItemAudit[]> {
  return auditSale(r, sale, ids);
}

/** Moved to @flashsale/common (sale-cleanup.ts), shared with the CLI. */
export { deleteSaleKeys };
