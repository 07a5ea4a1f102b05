/**
 * The Redis side of a sale, for the operator: one client per distinct connection (shared by reconciles), inventory
 * seeding through the Lua seed script (exactly once per item, later quantity changes as deltas, sold and held units
 * never overwritten), the audit read for the status, and deletion of every key of a sale (SCAN + UNLINK).
 */
import {
  auditSale,
  createRedis,
  type FlashSaleSpec,
  type ItemAudit,
  parseAddrList,
  type RedisClient,
  type SeedResult,
  saleKeyPatterns,
  seedItem,
} from '@flashsale/common';
import type { Cluster, Redis } from 'ioredis';

export interface RedisCredentials {
  username?: string | undefined;
  password?: string | undefined;
}

export class RedisPool {
  private readonly clients = new Map<string, RedisClient>();
  private readonly commandTimeoutMs: number;

  constructor(commandTimeoutMs = 3000) {
    this.commandTimeoutMs = commandTimeoutMs;
  }

  get(spec: FlashSaleSpec['redis'], creds: RedisCredentials): RedisClient {
    const key = JSON.stringify([spec.mode, spec.addr, spec.tls.enabled, creds.username, creds.password]);
    let c = this.clients.get(key);
    if (!c) {
      c = createRedis(
        {
          mode: spec.mode,
          nodes: parseAddrList(spec.addr, 'spec.redis.addr'),
          username: creds.username,
          password: creds.password,
          tls: spec.tls.enabled,
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

/** Delete every key of the sale (all masters in cluster mode); returns how many were removed. */
export async function deleteSaleKeys(r: RedisClient, sale: string): Promise<number> {
  const nodes: Redis[] =
    'nodes' in r && typeof (r as Cluster).nodes === 'function' ? (r as Cluster).nodes('master') : [r as Redis];
  let removed = 0;
  for (const node of nodes) {
    for (const match of saleKeyPatterns(sale)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        for (const k of keys) removed += await node.unlink(k);
      } while (cursor !== '0');
    }
  }
  return removed;
}
