/**
 * The gateway's only Kafka module: an idempotent kafkajs producer (acks = all) behind the circuit breaker,
 * with a micro-batcher so concurrent requests share one produce request. `send()` resolves only after the
 * broker acknowledged the message; it rejects with BreakerOpenError while the breaker is open.
 */
import {
  encodeOrder,
  type KafkaSasl,
  kafkaSecurityOptions,
  type OrderMessage,
  orderMessageHeaders,
  type TlsOption,
} from '@flashsale/common';
import {
  type Admin,
  Kafka,
  logLevel,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { Logger } from 'pino';
import { BreakerOpenError, type BreakerOptions, type BreakerState, ExponentialBreaker } from './breaker.ts';

export interface ProducerOptions {
  brokers: string[];
  clientId: string;
  tls?: TlsOption;
  sasl?: KafkaSasl | undefined;
  topic: string;
  sendTimeoutMs: number;
  batchMax: number;
  lingerMs: number;
  breaker: Omit<BreakerOptions, 'callTimeoutMs'>;
}

interface Pending {
  message: Message;
  /** Date.now() when send() queued it */
  queuedAt: number;
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

/** One partition's leader did not acknowledge in time (its orders fail; the others of the batch go on). */
export class PartitionTimeoutError extends Error {
  constructor(ms: number) {
    super(`the partition leader did not acknowledge within ${ms} ms`);
    this.name = 'PartitionTimeoutError';
  }
}

/**
 * An order that waited its whole send timeout behind its partition's earlier produce requests (a slow or hung leader)
 * and was never sent: its outcome is known (not written), so the client's retry is safe and no producer is retired.
 */
export class QueueTimeoutError extends Error {
  constructor(ms: number) {
    super(`the order waited ${ms} ms for its partition's earlier produce requests and was not sent`);
    this.name = 'QueueTimeoutError';
  }
}

/**
 * A send() resolved without an acknowledgement for some of its partitions (kafkajs #1303, see produce()): their
 * orders may or may not be written, so they fail (503, the client's retry is deduplicated) and the producer retires.
 */
export class UnacknowledgedPartitionError extends Error {
  constructor(orders: number) {
    super(`Kafka answered the produce request without acknowledging the partitions of ${orders} order(s)`);
    this.name = 'UnacknowledgedPartitionError';
  }
}

/** The partitions a send() answer acknowledged (an entry without an error code). */
export function acknowledgedPartitions(answer: readonly RecordMetadata[]): Set<number> {
  const acked = new Set<number>();
  for (const r of answer) if (r.errorCode === 0) acked.add(r.partition);
  return acked;
}

/** How often the partition leaders are re-read (also after any failed produce). */
const METADATA_MAX_AGE_MS = 30_000;

export class OrderProducer {
  readonly breaker: ExponentialBreaker<[Pending[]], void>;
  private readonly kafka: Kafka;
  private producer: Producer;
  /** bumped whenever the producer is replaced (events of a retired producer are ignored) */
  private generation = 0;
  /** the current producer was handed a produce request since it was created */
  private used = false;
  /** retired producers still disconnecting */
  private readonly retiring = new Set<Promise<unknown>>();
  private readonly opts: ProducerOptions;
  private readonly log: Logger;
  private admin: Admin | undefined;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private queue: Pending[] = [];
  private inflight = 0;
  /** partitions with a produce request in flight */
  private readonly busy = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private leaders: { partitions: PartitionMetadata[]; leaderOf: Map<number, number>; at: number } | undefined;
  private leadersLoading: Promise<void> | undefined;

  constructor(opts: ProducerOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      ...kafkaSecurityOptions({ tls: opts.tls, sasl: opts.sasl }),
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
    this.producer = this.newProducer();
    this.breaker = new ExponentialBreaker<[Pending[]], void>((batch) => this.produce(batch), {
      ...opts.breaker,
      callTimeoutMs: opts.sendTimeoutMs,
    });
  }

  private newProducer(): Producer {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Limited so a dead broker surfaces as a failure to the breaker; a client retry reuses the same
      // (deterministic) order id, so a late duplicate write is deduplicated by the processor.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const gen = this.generation;
    producer.on(producer.events.DISCONNECT, () => {
      if (gen === this.generation) this.connected = false;
    });
    return producer;
  }

  /**
   * After a produce request whose outcome is unknown (failed or timed out: it may still have been written), the
   * idempotent producer must not be used again. kafkajs keeps the partition's sequence number where it was, so the
   * next batch goes out with the same (producer id, sequence) as the one that may have landed: the broker takes it
   * for a retry of that batch and acknowledges it without writing it (e2e/scale/broker-loss.test.ts caught 202s
   * lost this way, as many as the earlier, 503-answered batch had written). A fresh producer gets a new producer id
   * from InitProducerId, so no later batch can be mistaken for an earlier one; the old one finishes (or fails) its
   * pending requests and is disconnected.
   */
  private retireProducer(): void {
    if (!this.used || this.closed) return;
    const old = this.producer;
    this.generation += 1;
    this.used = false;
    this.connected = false;
    this.connecting = undefined;
    this.producer = this.newProducer();
    const done = new Promise((r) => setTimeout(r, 4 * this.opts.sendTimeoutMs).unref())
      .then(() => old.disconnect())
      .catch(() => {});
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
    this.log.warn({ event: 'kafka_producer_replaced' }, 'Kafka producer replaced after a send with unknown outcome');
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
      const gen = this.generation;
      const connecting = this.producer
        .connect()
        .then(() => {
          if (gen === this.generation) this.connected = true;
        })
        .finally(() => {
          if (this.connecting === connecting) this.connecting = undefined;
        });
      this.connecting = connecting;
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
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) {
        const leaderOf = new Map(parts.map((p) => [p.partitionId, p.leader]));
        this.leaders = { partitions: parts, leaderOf, at: Date.now() };
      }
    })()
      .catch(() => {})
      .finally(() => {
        this.leadersLoading = undefined;
      });
  }

  /**
   * One produce request per partition leader (as we last saw it), concurrently; each order settles with its own
   * partition's acknowledgement, and any failure counts once for the breaker.
   *
   * A send() whose retries span brokers can resolve without writing some of its partitions when a broker dies
   * (kafkajs #1303 / PR #1798, never released: the per-broker answer map kept across retries keeps a success for a
   * broker that has since become the leader of other partitions of the send, so those are never sent). Those
   * partitions are missing from send()'s answer, so every order is settled by its partition's entry in it
   * (`acknowledgedPartitions`): an order whose partition is absent fails like an order whose send failed, and the
   * producer is retired. e2e/scale/broker-loss.test.ts is the proof on three brokers. Grouping by leader (not one
   * request per partition, as earlier releases did) is what makes a batch one produce request per broker: on one
   * broker, six partitions went out as six requests serialized behind the idempotent producer's broker lock.
   */
  private async produce(batch: Pending[]): Promise<void> {
    const producer = this.producer;
    this.used = true;
    await this.ensureConnected();
    if (!this.leaders) {
      this.refreshLeaders();
      await this.leadersLoading;
    }
    const leaders = this.leaders;
    if (!leaders || Date.now() - leaders.at > METADATA_MAX_AGE_MS) this.refreshLeaders();
    const groups = new Map<string, Pending[]>();
    let unknown = 0;
    for (const p of batch) {
      if (p.message.partition === undefined) this.assignPartition(p);
      const partition = p.message.partition;
      // no metadata: one message per send() (one message is one partition)
      const key =
        partition === undefined ? `?${unknown++}` : String(leaders?.leaderOf.get(partition) ?? `p${partition}`);
      const g = groups.get(key);
      if (g) g.push(p);
      else groups.set(key, [p]);
    }
    // each leader's wait is bounded below the breaker's call timeout, so a leader that died fails its own orders
    // without the whole batch timing out
    const bound = Math.max(1, Math.floor(this.opts.sendTimeoutMs * 0.9));
    const results = await Promise.allSettled(
      [...groups.values()].map(async (group) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const sent = producer.send({
            topic: this.opts.topic,
            messages: group.map((p) => p.message),
            acks: -1,
            timeout: this.opts.sendTimeoutMs,
          });
          sent.catch(() => {});
          const answer = await Promise.race([
            sent,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new PartitionTimeoutError(bound)), bound);
            }),
          ]);
          const acked = acknowledgedPartitions(answer);
          let missing = 0;
          for (const p of group) {
            const part = p.message.partition;
            if (part === undefined ? acked.size > 0 : acked.has(part)) settle(p);
            else missing += 1;
          }
          if (missing > 0) throw new UnacknowledgedPartitionError(missing);
        } catch (e) {
          for (const p of group) settle(p, e);
          throw e;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === 0) return;
    this.refreshLeaders();
    // the outcome of the failed requests is unknown: no later batch may reuse this producer's sequence numbers
    this.retireProducer();
    // Some leaders wrote theirs: Kafka works, one leader (or a few) does not. Those orders failed (503) by
    // themselves; the breaker, which refuses every order, opens only when nothing gets through.
    if (failed.length < results.length) return;
    throw (failed[0] as PromiseRejectedResult).reason;
  }

  /** The partition of the message's key by the default partitioner over the last known metadata (none: undefined). */
  private assignPartition(p: Pending): void {
    const leaders = this.leaders;
    if (!leaders || p.message.partition !== undefined) return;
    p.message.partition = this.partitioner({
      topic: this.opts.topic,
      partitionMetadata: leaders.partitions,
      message: p.message,
    });
  }

  /** Queue one order; resolves when the broker acknowledged it. */
  send(order: OrderMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('producer is closed'));
    // Fail fast while open; messages already queued fail through opossum's rejection.
    if (this.breaker.state === 'open') return this.breaker.fire([]) as Promise<void>;
    const message: Message = {
      key: order.item_id,
      value: encodeOrder(order),
      headers: orderMessageHeaders(order),
    };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, queuedAt: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.closedLanes()) return;
    if (this.queue.length >= this.opts.batchMax || this.opts.lingerMs <= 0) {
      this.timer = setTimeout(() => this.flushOne(), 0);
    } else {
      this.timer = setTimeout(() => this.flushOne(), this.opts.lingerMs);
    }
  }

  /** Nothing queued can go now: every queued message's partition has a request in flight. */
  private closedLanes(): boolean {
    if (this.queue.length === 0) return true;
    return this.queue.every((p) => p.message.partition !== undefined && this.busy.has(p.message.partition));
  }

  /**
   * Send one batch of what is queued, skipping partitions that already have a request in flight: batches run
   * concurrently, but never two for one partition (the idempotent producer's sequence numbers stay in order), so a
   * partition whose leader died holds back only its own orders, not those of the partitions whose leaders live.
   * An order still queued after its send timeout fails unsent: behind a slow leader a queue longer than one batch
   * would otherwise wait one produce request after another, and its client far longer than KAFKA_SEND_TIMEOUT.
   */
  private flushOne(): void {
    this.timer = undefined;
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const taken = new Set<number>();
    const expired = Date.now() - this.opts.sendTimeoutMs;
    for (const p of this.queue) {
      if (p.queuedAt < expired) {
        settle(p, new QueueTimeoutError(Date.now() - p.queuedAt));
        continue;
      }
      this.assignPartition(p);
      const part = p.message.partition;
      if (batch.length >= this.opts.batchMax || (part !== undefined && this.busy.has(part))) rest.push(p);
      else {
        batch.push(p);
        if (part !== undefined) taken.add(part);
      }
    }
    this.queue = rest;
    if (batch.length === 0) {
      this.checkIdle();
      return;
    }
    for (const part of taken) this.busy.add(part);
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
          if (!(e instanceof BreakerOpenError)) this.retireProducer();
        },
      )
      .finally(() => {
        for (const part of taken) this.busy.delete(part);
        this.inflight -= 1;
        if (this.queue.length > 0) this.schedule();
        else this.checkIdle();
      });
    if (this.queue.length > 0) this.schedule();
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
    await bounded(Promise.allSettled([this.producer.disconnect(), this.admin?.disconnect(), ...this.retiring]), 3000);
  }
}
