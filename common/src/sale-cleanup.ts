/** Removal of a sale's Redis state (deletionPolicy: Delete), shared by the operator and the CLI. */
import type { Cluster, Redis } from 'ioredis';
import { saleKeyGlob } from './keys.ts';
import type { RedisClient } from './redis.ts';

/** Delete every key of the sale (all masters in cluster mode, SCAN + UNLINK); returns how many were removed. */
export async function deleteSaleKeys(r: RedisClient, sale: string): Promise<number> {
  const nodes: Redis[] =
    'nodes' in r && typeof (r as Cluster).nodes === 'function' ? (r as Cluster).nodes('master') : [r as Redis];
  let removed = 0;
  for (const node of nodes) {
    for (const match of [saleKeyGlob(sale)]) {
      let cursor = '0';
      do {
        // a large COUNT: a shared Redis may hold millions of other keys and SCAN visits every one of them
        // (2.3 M keys: COUNT 500 took ~20 s, COUNT 20000 well under 1 s)
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 20_000);
        cursor = next;
        if (keys.length > 0) {
          // one UNLINK per key, pipelined: a multi-key UNLINK is refused with CROSSSLOT on a cluster node
          const p = node.pipeline();
          for (const k of keys) p.unlink(k);
          for (const [err, n] of (await p.exec()) ?? []) {
            if (err) throw err;
            removed += Number(n);
          }
        }
      } while (cursor !== '0');
    }
  }
  return removed;
}
