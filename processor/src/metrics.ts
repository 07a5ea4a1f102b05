/** The runbook's processor metrics (names from common), on a registry per processor instance. */
import { PROCESSOR_METRICS as M } from '@flashsale/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics(defaults = true) {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'processor_' });
  const reg = [registry];
  return {
    registry,
    processed: new Counter({
      name: M.ordersProcessed,
      help: 'Orders consumed and handled to a final outcome',
      registers: reg,
    }),
    success: new Counter({ name: M.ordersProcessedSuccess, help: 'Orders confirmed (paid)', registers: reg }),
    failed: new Counter({
      name: M.ordersProcessedFailed,
      help: 'Orders that failed (payment, invalid, Redis, hold expired), by reason',
      labelNames: ['reason'],
      registers: reg,
    }),
    soldOut: new Counter({ name: M.ordersSoldOut, help: 'Orders rejected because the item sold out', registers: reg }),
    movedToDlq: new Counter({
      name: M.ordersMovedToDlq,
      help: 'Messages written to the DLQ topic, by reason',
      labelNames: ['reason'],
      registers: reg,
    }),
    duration: new Histogram({
      name: M.processingDuration,
      help: 'Time from consuming an order to its final outcome',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: reg,
    }),
    dlqSize: new Gauge({
      name: M.dlqSize,
      help: 'DLQ messages not yet handled by the redrive, by dlq_reason (unread: not yet read by this processor)',
      labelNames: ['reason'],
      registers: reg,
    }),
    dlqOldestAge: new Gauge({
      name: M.dlqOldestAge,
      help: 'Age of the oldest DLQ message not yet handled by the redrive, by dlq_reason',
      labelNames: ['reason'],
      registers: reg,
    }),
    inventoryLevel: new Gauge({
      name: M.inventoryLevel,
      help: 'Remaining units per item',
      labelNames: ['item_id'],
      registers: reg,
    }),
    consumerLag: new Gauge({
      name: M.consumerLag,
      help: 'Messages of the orders topic not yet committed by the processor group, per partition',
      labelNames: ['partition'],
      registers: reg,
    }),
    holdsExpired: new Counter({
      name: M.holdsExpired,
      help: 'Holds returned to stock by the sweeper',
      registers: reg,
    }),
    sweepItems: new Counter({
      name: M.sweepItems,
      help: 'Items the hold sweeper visited: result="swept" (this processor took the lease) or "leased_elsewhere"',
      labelNames: ['result'],
      registers: reg,
    }),
    ordersStuck: new Counter({
      name: M.ordersStuck,
      help: 'Accepted orders found QUEUED past STUCK_ORDER_AFTER: action="republished" (sent again) or "finalized" (REJECTED, not_processed)',
      labelNames: ['action'],
      registers: reg,
    }),
    refunds: new Counter({
      name: M.refunds,
      help: 'Payments the processor refunded, by reason (paid_after_expiry: the payment landed after the hold expired; counted once per order)',
      labelNames: ['reason'],
      registers: reg,
    }),
    drift: new Gauge({
      name: M.inventoryDrift,
      help: 'initial - remaining - confirmed - held, per item (must be 0)',
      labelNames: ['item_id'],
      registers: reg,
    }),
  };
}
export type ProcessorMetrics = ReturnType<typeof createMetrics>;
