/** The order backlog the processor benchmarks drain: produced straight to the orders topic, before or during a case. */
import { encodeOrder, type OrderMessage, orderMessageHeaders, topics } from '@flashsale/common';
import type { Producer } from 'kafkajs';

/**
 * Send `n` one-unit orders over `items` (round robin, keyed by item as the gateway keys them) to the sale's orders
 * topic, acks=all, 2,000 messages per request. Order ids are `<item>.<prefix><n>`, so a second backlog with another
 * prefix is new orders, not replays. Each message carries the gateway's headers (common/src/order.ts), so the processor
 * decodes what it decodes in production.
 */
export async function sendOrderBacklog(
  producer: Producer,
  sale: string,
  items: string[],
  n: number,
  prefix: string,
): Promise<void> {
  const now = new Date().toISOString();
  for (let start = 0; start < n; start += 2000) {
    const messages = [];
    for (let i = start; i < Math.min(n, start + 2000); i++) {
      const item = items[i % items.length] as string;
      const order: OrderMessage = {
        v: 1,
        order_id: `${item}.${prefix}${i}`,
        sale,
        item_id: item,
        user_id: `u${i}`,
        quantity: 1,
        request_id: `r${i}`,
        correlation_id: `c${i}`,
        created_at: now,
      };
      messages.push({ key: item, value: encodeOrder(order), headers: orderMessageHeaders(order) });
    }
    await producer.send({ topic: topics(sale).orders, acks: -1, messages });
  }
}
