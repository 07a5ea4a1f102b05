/** SCAN over every master (a Cluster scans each one), page by page: reads for sweeps over a sale's keys. */
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis.ts';

/** The masters to scan: every master of a Cluster, or the one server. */
export function scanNodes(r: RedisClient): Redis[] {
  return 'nodes' in r && typeof (r as Cluster).nodes === 'function' ? (r as Cluster).nodes('master') : [r as Redis];
}

/**
 * Calls `page` with the node and each non-empty page of keys matching `match`. A large COUNT: SCAN visits every key
 * of the node, the sale's or not (2.3 M keys: COUNT 500 took ~20 s, COUNT 20000 well under 1 s).
 */
export async function scanPages(
  r: RedisClient,
  match: string,
  page: (node: Redis, keys: string[]) => Promise<void>,
): Promise<void> {
  for (const node of scanNodes(r)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 20_000);
      cursor = next;
      if (keys.length > 0) await page(node, keys);
    } while (cursor !== '0');
  }
}
