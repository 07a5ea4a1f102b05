/**
 * The gateway's only Kafka module: an idempotent kafkajs producer (acks = all) behind the circuit breaker,
 * with a micro-batcher so concurrent requests share one produce request. `send()` resolves only after the
 * broker acknowledged the message; it rejects with BreakerOpenError while the breaker is open.
 */
import { encodeOrder, ORDER_HEADERS, type OrderMessage } from '@flashsale/common';
import {
  type Admin,
  Kafka,
  logLevel,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
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
  settled?: boolean;
}

const settle = (p: Pending, err?: unknown) => {
  if (p.settled) return;
  p.settled = true;
  if (err === undefined) p.resolve();
  else p.reject(err);
};

/** How often the partition leaders are re-read (also after any failed produce). */
const METADATA_MAX_AGE_MS = 30_000;

export class OrderProducer {
  readonly breaker: ExponentialBreaker<[Pending[]], void>;
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
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private leaders: { partitions: PartitionMetadata[]; at: number } | undefined;
  private leadersLoading: Promise<void> | undefined;

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
    this.breaker = new ExponentialBreaker<[Pending[]], void>((batch) => this.produce(batch), {
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
      this.refreshLeaders();
      await this.leadersLoading;
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

  private getAdmin(): Admin {
    this.admin ??= this.kafka.admin({ retry: { retries: 0 } });
    return this.admin;
  }

  /** Re-read the topic's partition leaders (in the background; sends never wait for it). */
  private refreshLeaders(): void {
    if (this.leadersLoading || this.closed) return;
    this.leadersLoading = (async () => {
      const admin = this.getAdmin();
      await admin.connect();
      const m = await admin.fetchTopicMetadata({ topics: [this.opts.topic] });
      const parts = m.topics[0]?.partitions ?? [];
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) this.leaders = { partitions: parts, at: Date.now() };
    })()
      .catch(() => {})
      .finally(() => {
        this.leadersLoading = undefined;
      });
  }

  /**
   * One produce request per partition leader, concurrently: a send() spanning several brokers can report
   * success for messages never written when a broker dies (kafkajs #1303, see design-notes), one per leader
   * cannot. Each order settles with its own leader's answer; any failure counts once for the breaker.
   */
  private async produce(batch: Pending[]): Promise<void> {
    await this.ensureConnected();
    const leaders = this.leaders;
    if (!leaders || Date.now() - leaders.at > METADATA_MAX_AGE_MS) this.refreshLeaders();
    const groups = new Map<number, Pending[]>();
    for (const p of batch) {
      let leader = -1;
      if (leaders) {
        const partition = this.partitioner({
          topic: this.opts.topic,
          partitionMetadata: leaders.partitions,
          message: p.message,
        });
        p.message.partition = partition;
        leader = leaders.partitions.find((x) => x.partitionId === partition)?.leader ?? -1;
      }
      const g = groups.get(leader);
      if (g) g.push(p);
      else groups.set(leader, [p]);
    }
    const results = await Promise.allSettled(
      [...groups.values()].map(async (group) => {
        try {
          await this.producer.send({
            topic: this.opts.topic,
            messages: group.map((p) => p.message),
            acks: -1,
            timeout: this.opts.sendTimeoutMs,
          });
          for (const p of group) settle(p);
        } catch (e) {
          for (const p of group) settle(p, e);
          throw e;
        }
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      this.refreshLeaders();
      throw (failed as PromiseRejectedResult).reason;
    }
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
      .fire(batch)
      .then(
        () => {
          for (const p of batch) settle(p);
        },
        (e) => {
          // open breaker, call timeout, or a failed leader: whatever did not settle on its own fails now
          for (const p of batch) settle(p, e);
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
      const admin = this.getAdmin();
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
