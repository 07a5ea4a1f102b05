/**
 * Follows one accepted order over Server-Sent Events until a final status, as a shopper's page would. The final
 * statuses come as an argument: a worker thread that imported `@flashsale/common` (ioredis, kafkajs, zod) for one set
 * would spend seconds loading on a busy machine before sending its first order.
 */
import type { Pool } from 'undici';
import { increment } from './stats.ts';

export interface SseTally {
  followed: number;
  reachedFinal: number;
  finalStatuses: Record<string, number>;
}

export async function followOrder(
  pool: Pool,
  orderId: string,
  finalStatuses: ReadonlySet<string>,
  signal: AbortSignal,
  sse: SseTally,
): Promise<void> {
  sse.followed++;
  try {
    const res = await pool.request({
      path: `/v1/orders/${encodeURIComponent(orderId)}/events`,
      method: 'GET',
      headers: { accept: 'text/event-stream' },
      signal,
    });
    let buf = '';
    for await (const chunk of res.body) {
      buf += chunk.toString();
      let idx = buf.indexOf('\n\n');
      while (idx >= 0) {
        const event = buf.slice(0, idx);
        buf = buf.slice(idx + 2);
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('');
        if (data) {
          try {
            const parsed = JSON.parse(data) as { status?: string };
            if (parsed.status && finalStatuses.has(parsed.status)) {
              sse.reachedFinal++;
              increment(sse.finalStatuses, parsed.status);
              res.body.destroy();
              return;
            }
          } catch {
            // keep-alive comments and partial frames are not JSON
          }
        }
        idx = buf.indexOf('\n\n');
      }
    }
  } catch {
    // a stream cut short counts as not reaching final; nothing else to do
  }
}
