/**
 * The sale's backlog, read before the replica plan: the processor group's lag on the orders topic (from the brokers:
 * committed offsets against end offsets, each partition once) and, once the clock is past endsAt + grace, the units
 * still held. The lag is exported as `flashsale_consumer_lag{namespace,sale}`, the one number the processor's
 * autoscaler and the lag alert read (common/src/sale-queries.ts), whatever the number of processors, none included.
 * The backlog also keeps the processors running past endsAt + scaleDownGrace until it is gone (schedule.ts).
 */

import type { FlashSaleSpec } from '@flashsale/common';
import { groupLag, processorGroupId, topics } from '@flashsale/common';
import type { SaleRef } from '../builders/meta.ts';
import type { Backlog } from '../builders/schedule.ts';
import { readInventory } from '../external/redisSide.ts';
import { errorMessage } from '../kube/client.ts';
import type { Deps } from './context.ts';
import type { Credentials } from './readCredentials.ts';

/** The group's lag summed over partitions; 0 while the orders topic does not exist yet (nothing to consume). */
async function readLag(deps: Deps, sale: string, spec: FlashSaleSpec, creds: Credentials): Promise<number> {
  const admin = await deps.kafka.get(spec.kafka, creds.kafka);
  const t = topics(sale);
  // the admin client never creates topics, but asking for a missing one retries for a while: look first
  if (!(await admin.listTopics()).includes(t.orders)) return 0;
  const parts = await groupLag(admin, processorGroupId(sale), t.orders);
  return parts.reduce((n, p) => n + p.lag, 0);
}

/**
 * Reads the backlog; `withHolds` adds the held units (a Redis audit of every item). Unreadable (Kafka or Redis down,
 * credentials missing) gives `{ error }` and drops the exported lag, so no one scales or alerts on a stale number.
 */
export async function observeBacklog(
  deps: Deps,
  ref: SaleRef,
  spec: FlashSaleSpec,
  creds: Credentials,
  withHolds: boolean,
): Promise<Backlog> {
  const labels = { namespace: ref.namespace, sale: ref.name };
  if (creds.missing.length > 0) {
    deps.metrics.saleConsumerLag.remove(labels);
    return { error: `Secret key(s) not found: ${creds.missing.join(', ')}` };
  }
  let lag: number;
  try {
    lag = await readLag(deps, ref.name, spec, creds);
    deps.metrics.saleConsumerLag.set(labels, lag);
  } catch (e) {
    await deps.kafka.drop(spec.kafka, creds.kafka);
    deps.metrics.saleConsumerLag.remove(labels);
    return { error: `consumer lag unreadable: Kafka ${spec.kafka.brokers}: ${errorMessage(e)}` };
  }
  if (!withHolds) return { lag };
  try {
    const r = deps.redis.get(spec.redis, creds.redis);
    const audit = await readInventory(
      r,
      ref.name,
      spec.items.map((i) => i.id),
    );
    return { lag, heldUnits: audit.reduce((n, a) => n + a.held, 0) };
  } catch (e) {
    return { lag, error: `open holds unreadable: Redis ${spec.redis.addr}: ${errorMessage(e)}` };
  }
}
