import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCrowd } from './crowd.ts';
import { LOAD_DEFAULTS, type LoadOptions, loadOptionsSchema } from './options.ts';
import { runLoad, splitCrowd } from './run-load.ts';

/**
 * A stand-in gateway on loopback: 202 with an order id per new key, the original answer again (Idempotent-Replayed)
 * for a repeated key, and 429 with Retry-After for every first try of users whose id ends in 7.
 */
let server: Server;
let url: string;
const seen = new Map<string, string>();
const tried = new Set<string>();
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      requests++;
      const key = String(req.headers['idempotency-key']);
      const order = JSON.parse(body) as { user_id: string; item_id: string };
      if (order.user_id.endsWith('7') && !tried.has(key)) {
        tried.add(key);
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end('{"code":"RATE_LIMITED"}');
        return;
      }
      const replay = seen.get(key);
      const id = replay ?? `${order.item_id}.${key}`;
      seen.set(key, id);
      res.writeHead(202, { 'content-type': 'application/json', ...(replay ? { 'idempotent-replayed': 'true' } : {}) });
      res.end(JSON.stringify({ order_id: id, status: 'QUEUED' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

const opts = (over: Partial<LoadOptions> = {}) =>
  loadOptionsSchema.parse({ ...LOAD_DEFAULTS, url, sseShare: 0, rampSeconds: 0.2, ...over });

describe('splitCrowd', () => {
  it('deals arrivals round-robin (each share stays in time order) and splits the connections exactly', () => {
    const crowd = planCrowd(opts({ users: 101, attempts: 300 }), ['a'], 'r');
    const shards = splitCrowd(crowd, 10, 3);
    expect(shards.map((s) => s.connections)).toEqual([4, 3, 3]);
    expect(shards.reduce((n, s) => n + s.crowd.length, 0)).toBe(101);
    for (const s of shards)
      expect(s.crowd.map((a) => a.at)).toEqual([...s.crowd.map((a) => a.at)].sort((x, y) => x - y));
  });
});

describe('runLoad against a stand-in gateway', () => {
  it.each([1, 2])(
    'sends every planned attempt, retries persons after 429, tallies replays (%i thread(s))',
    async (workers) => {
      const before = requests;
      const o = opts({ users: 200, attempts: 600, retryShare: 0.3, botShare: 0.05, concurrency: 16, workers });
      const rec = await runLoad(o, ['a', 'b']);
      const crowd = planCrowd(o, ['a', 'b'], rec.runId);
      const planned = crowd.flatMap((u) => u.attempts);
      // a 429 is retried once by a person (the second try is accepted); a bot gives up on it
      const limited = planned.filter((a) => a.user.endsWith('7') && !a.repeat);
      const botsLimited = limited.filter((a) => a.persona === 'bot').length;
      expect(rec.planned).toBe(600);
      expect(rec.attempts).toBe(600 + limited.length - botsLimited);
      expect(requests - before).toBe(rec.attempts);
      expect(rec.byStatusCode).toEqual({ 202: 600 - botsLimited, 429: limited.length });
      expect(rec.byErrorCode).toEqual({ RATE_LIMITED: limited.length });
      const fresh = planned.filter((a) => !a.repeat && !(a.persona === 'bot' && a.user.endsWith('7')));
      expect(rec.accepted).toBe(fresh.length);
      expect(rec.replayed).toBe(planned.filter((a) => a.repeat).length);
      expect([...rec.acceptedOrders.values()].every((item) => item === 'a' || item === 'b')).toBe(true);
      expect(rec.latencyMs.p50).toBeGreaterThan(0);
      expect(rec.generator.workers).toBe(workers);
      expect(rec.generator.cpuMsPerRequest).toBeGreaterThan(0);
    },
    // a worker thread loads its modules first: seconds on a busy machine
    30_000,
  );

  it('stops at --max-seconds when the gateway never answers, without counting the cut-off requests', async () => {
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const t0 = Date.now();
      const rec = await runLoad(
        opts({
          url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
          users: 50,
          attempts: 100,
          maxSeconds: 1,
        }),
        ['a'],
      );
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(rec.attempts).toBe(0);
      expect(rec.accepted).toBe(0);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
