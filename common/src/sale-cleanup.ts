/** Removal of a sale's Redis state (deletionPolicy: Delete), shared by the operator and the CLI. */
import type { Cluster, Redis } from 'ioredis';
import { saleKeyPatterns } from './keys.ts';
import type { RedisClient } from './redis.ts';

/** Delete every key of the sale (all masters in cluster mode, SCAN + UNLINK); returns how many were removed. */
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
