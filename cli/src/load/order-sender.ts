/**
 * Sends one order (`POST /v1/orders`) and reads its answer through undici's dispatch API: the headers are a flat
 * array and the body a string made once per attempt, and the answer is collected from raw chunks. `pool.request`
 * wraps every answer in a Readable stream and adds an abort listener per request; profiled, that bookkeeping and
 * its garbage were most of the ~130 µs of CPU the generator spent per request, on the cores the gateway needs.
 */
import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import type { Attempt } from './crowd.ts';

export interface OrderAnswer {
  /** HTTP status; 0 when the request failed in transport */
  status: number;
  orderId?: string | undefined;
  /** the error body's `code` */
  code?: string | undefined;
  /** Idempotent-Replayed: true */
  replayed: boolean;
  /** Retry-After in seconds (0 when absent) */
  retryAfter: number;
  /** a body that is not JSON */
  unparseable: boolean;
  /** the transport error's code (ECONNRESET, UND_ERR_SOCKET, ...) */
  transportError?: string | undefined;
  latencyMs: number;
}

class AnswerHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private replayed = false;
  private retryAfter = 0;
  private readonly chunks: Buffer[] = [];
  private readonly t0 = performance.now();
  private readonly done: (a: OrderAnswer) => void;

  constructor(done: (a: OrderAnswer) => void) {
    this.done = done;
  }

  onRequestStart(): void {
    // required by undici's handler check; nothing to do before the answer
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, unknown>): void {
    this.status = statusCode;
    this.replayed = headers['idempotent-replayed'] === 'true';
    const ra = Number(headers['retry-after'] ?? 0);
    this.retryAfter = Number.isFinite(ra) ? ra : 0;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const latencyMs = performance.now() - this.t0;
    const text =
      this.chunks.length === 1 ? (this.chunks[0] as Buffer).toString() : Buffer.concat(this.chunks).toString();
    let body: { order_id?: string; code?: string } = {};
    let unparseable = false;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      unparseable = true;
    }
    this.done({
      status: this.status,
      orderId: body.order_id,
      code: body.code,
      replayed: this.replayed,
      retryAfter: this.retryAfter,
      unparseable,
      latencyMs,
    });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.done({
      status: 0,
      replayed: false,
      retryAfter: 1,
      unparseable: false,
      transportError: (err as { code?: string }).code ?? 'TRANSPORT',
      latencyMs: performance.now() - this.t0,
    });
  }
}

export class OrderSender {
  readonly pool: Pool;
  private readonly quantity: string;
  private readonly correlationPrefix: string;
  private n = 0;

  constructor(url: string, connections: number, correlationPrefix: string, quantity: number) {
    this.pool = new Pool(new URL(url).origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
    this.correlationPrefix = correlationPrefix;
    this.quantity = String(quantity);
  }

  post(a: Attempt): Promise<OrderAnswer> {
    const headers = [
      'content-type',
      'application/json',
      'idempotency-key',
      a.key,
      'x-forwarded-for',
      a.ip,
      'x-correlation-id',
      `${this.correlationPrefix}-${this.n++}`,
    ];
    const body = `{"user_id":${JSON.stringify(a.user)},"item_id":${JSON.stringify(a.item)},"quantity":${this.quantity}}`;
    return new Promise((resolve) => {
      this.pool.dispatch({ path: '/v1/orders', method: 'POST', headers, body }, new AnswerHandler(resolve));
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** ends every request in flight (they answer status 0) */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
