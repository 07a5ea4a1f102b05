/** Kafka topic names, derived from the sale name (the runbook's `orders` and `orders-dlq`, one pair per sale). */
export const topics = (sale: string) => ({
  orders: `${sale}.orders`,
  dlq: `${sale}.orders-dlq`,
});

/** Consumer group of a sale's processors. */
export const processorGroupId = (sale: string) => `${sale}.processor`;

/**
 * Consumer group of the DLQ redrive (CLI). Its committed offsets mark DLQ messages as handled: the DLQ gauges
 * count from them.
 */
export const dlqRedriveGroupId = (sale: string) => `${sale}.dlq-redrive`;
