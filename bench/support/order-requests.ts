/** The orders the benchmarks' autocannon runs send: POST /v1/orders, one unique idempotency key per request. */
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';

/**
 * autocannon's request list: request n (from 1) orders one unit of `item` as the user `userOf(n, run)`, with the key
 * `<run>-<n>` (`run` is new for each list, so no two runs share an idempotency record) and `headers(n)` besides.
 */
export function orderRequests(
  item: string,
  userOf: (n: number, run: string) => string,
  headers: (n: number) => Record<string, string> = () => ({}),
): autocannon.Request[] {
  let n = 0;
  const run = randomUUID().slice(0, 8);
  return [
    {
      method: 'POST',
      path: '/v1/orders',
      setupRequest: (req) => {
        n += 1;
        return {
          ...req,
          headers: { 'content-type': 'application/json', 'idempotency-key': `${run}-${n}`, ...headers(n) },
          body: JSON.stringify({ user_id: userOf(n, run), item_id: item, quantity: 1 }),
        };
      },
    },
  ];
}
