/**
 * The gateway's only Kafka module: an idempotent kafkajs producer (acks = all) behind the circuit breaker,
 * with a micro-batcher so concurrent requests share one produce request. `send()` resolves only after the
 * broker acknowledged the message; it rejects with BreakerOpenError while the breaker is open.
 */
import { encodeOrder, ORDER_HEADERS, type OrderMessage } from '@flashsale/common';
import { type Admin, Kafka, logLevel, type Message, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { type BreakerOptions, type BreakerState, ExponentialBreaker } from './breaker.ts';

export interface ProducerOptions {
  brokers: string[];
  clientId: string;
  tls?: boolean;
  topic: string;
  sendTimeoutMs: number;
  batchMax: number;
  lingerMs: number;
  breaker: Omit<BreakerOptions, 'callTimeoutMs'>;
}

interface Pending {
  message: Message;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class OrderProducer {
  readonly breaker: ExponentialBreaker<[Message[]], void>;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly opts: ProducerOptions;
  private readonly log: Logger;
  private admin: Admin | undefined;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private queue: Pending[] = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(opts: ProducerOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      ssl: opts.tls === true,
      connectionTimeout: Math.min(3000, opts.sendTimeoutMs),
      requestTimeout: opts.sendTimeoutMs,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: () => {
        // kafkajs logs every retry; keep at most 20 lines per 10 s and drop its warning about limited retries.
        let windowStart = 0;
        let lines = 0;
        return ({ log: entry }) => {
          const { message, ...rest } = entry;
          if (message.startsWith('Limiting retries')) return;
          const now = Date.now();
          if (now - windowStart > 10_000) {
            windowStart = now;
            lines = 0;
          }
          if (++lines > 20) return;
          this.log.warn({ event: 'kafka_client', kafka: { ...rest, timestamp: undefined } }, message);
        };
      },
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Limited so a dead broker surfaces as a failure to the breaker; a client retry reuses the same
      // (deterministic) order id, so a late duplicate write is deduplicated by the processor.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = false;
    });
    this.breaker = new ExponentialBreaker<[Message[]], void>((batch) => this.produce(batch), {
      ...opts.breaker,
      callTimeoutMs: opts.sendTimeoutMs,
    });
  }

  get breakerState(): BreakerState {
    return this.breaker.state;
  }

  /** Connect now; failures are logged and retried on the next send (the gateway starts without Kafka). */
  async start(): Promise<void> {
    try {
      await this.ensureConnected();
    } catch (e) {
      this.log.warn({ event: 'kafka_connect_failed', err: (e as Error).message }, 'Kafka not reachable at start-up');
    }
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.producer
        .connect()
        .then(() => {
          this.connected = true;
        })
        .finally(() => {
          this.connecting = undefined;
        });
    }
    return this.connecting;
  }

  private async produce(batch: Message[]): Promise<void> {
    await this.ensureConnected();
    await this.producer.send({ topic: this.opts.topic, messages: batch, acks: -1, timeout: this.opts.sendTimeoutMs });
  }

  /** Queue one order; resolves when the broker acknowledged it. */
  send(order: OrderMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('producer is closed'));
    // Fail fast while open; messages already queued fail through opossum's rejection.
    if (this.breaker.state === 'open') return this.breaker.fire([]) as Promise<void>;
    const message: Message = {
      key: order.item_id,
      value: encodeOrder(order),
      headers: {
        [ORDER_HEADERS.correlationId]: order.correlation_id,
        [ORDER_HEADERS.requestId]: order.request_id,
        [ORDER_HEADERS.contentType]: 'application/json',
        [ORDER_HEADERS.schemaVersion]: String(order.v),
      },
    };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inflight > 0 || this.timer) return;
    if (this.queue.length >= this.opts.batchMax || this.opts.lingerMs <= 0) {
      this.timer = setTimeout(() => this.flushOne(), 0);
    } else {
      this.timer = setTimeout(() => this.flushOne(), this.opts.lingerMs);
    }
  }

  private flushOne(): void {
    this.timer = undefined;
    if (this.queue.length === 0 || this.inflight > 0) {
      this.checkIdle();
      return;
    }
    const batch = this.queue.splice(0, this.opts.batchMax);
    this.inflight += 1;
    this.breaker
      .fire(batch.map((p) => p.message))
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (e) => {
          for (const p of batch) p.reject(e);
        },
      )
      .finally(() => {
        this.inflight -= 1;
        if (this.queue.length > 0) this.schedule();
        else this.checkIdle();
      });
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.inflight === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Wait until every queued message was acknowledged or failed. */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.inflight === 0) return Promise.resolve();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushOne();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** True when a broker answers a metadata request within the timeout. */
  async ping(timeoutMs: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    try {
      if (!this.admin) {
        this.admin = this.kafka.admin({ retry: { retries: 0 } });
      }
      const admin = this.admin;
      const probe = (async () => {
        await admin.connect();
        const c = await admin.describeCluster();
        return c.brokers.length > 0;
      })();
      probe.catch(() => {});
      const timeout = new Promise<boolean>((resolve) => {
        t = setTimeout(() => resolve(false), timeoutMs);
      });
      return await Promise.race([probe, timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(t);
    }
  }

  /** Flush (bounded by `timeoutMs`), then disconnect; never hangs on a dead broker. */
  async close(timeoutMs = 10_000): Promise<void> {
    const bounded = (p: Promise<unknown>, ms: number) =>
      Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
    await bounded(this.flush(), timeoutMs);
    this.closed = true;
    this.breaker.shutdown();
    await bounded(Promise.allSettled([this.producer.disconnect(), this.admin?.disconnect()]), 3000);
  }
}
