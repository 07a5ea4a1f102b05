/** Test helpers over the real services handed over by the harness (never mocks). */
import { randomUUID } from 'node:crypto';
import { createRedis, parseAddrList, type RedisClient } from '@flashsale/common';
import { inject } from 'vitest';

export function services() {
  return inject('services');
}

export function redisAddr(): string {
  const r = services().redis;
  if (!r?.addr) throw new Error('the harness provided no Redis endpoint (services.redis is missing)');
  return r.addr;
}

export function kafkaBrokers(): string[] {
  const k = services().kafka;
  if (!k?.brokers?.length) throw new Error('the harness provided no Kafka endpoint (services.kafka is missing)');
  return k.brokers;
}

export function newRedis(): RedisClient {
  return createRedis({ mode: 'single', nodes: parseAddrList(redisAddr(), 'REDIS_ADDR') });
}

export function uniqueSale(prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
