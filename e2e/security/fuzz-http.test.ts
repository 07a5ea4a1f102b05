/**
 * The gateway process under tens of thousands of hostile requests over real sockets (gateway/test/fuzz.test.ts
 * fuzzes 2,000 in-process with inject(); this goes through Node's HTTP parser): malformed, huge and deeply nested
 * JSON, wrong types, unicode everywhere, negative and enormous quantities, header injection, oversized headers,
 * chunked bodies, and slow clients holding sockets. Only 4xx (or 202 for the odd valid order) and never a 5xx, the
 * process never dies, valid orders still go through during the abuse, and its memory stays flat.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { RedisClient } from '@flashsale/common';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisOf } from '../support/audit.ts';
import { BurstLog, postOrder } from '../support/load.ts';
import { type Proc, startGateway } from '../support/procs.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';

const sale = uniqueSale('fuzzh');
let gw: Proc;
let redis: RedisClient;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

beforeAll(async () => {
  redis = redisOf(requireService('redis').addr);
  await prepareSale({ redis, brokers: requireService('kafka').brokers, sale, items: { a: 10_000_000, b: 0 } });
  gw = await startGateway({ ...saleProcEnv(sale, requireService('redis').addr, requireService('kafka').brokers) });
});

afterAll(async () => {
  await gw?.kill();
  redis?.disconnect();
});

/** One raw request (bytes as given, no client-side validation); resolves with the status line or '' on close. */
function raw(port: number, data: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(buf.split('\r\n')[0] ?? '');
    }, timeoutMs);
    s.once('connect', () => s.end(data));
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
    });
    s.once('close', () => {
      clearTimeout(t);
      resolve(buf.split('\r\n')[0] ?? '');
    });
    s.once('error', () => undefined);
  });
}

const anyText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 1e21, 0.5, -0.0),
  anyText,
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(anyText, fc.integer(), { maxKeys: 3 }),
);
const order = fc.record(
  {
    user_id: fc.oneof(anyValue, fc.constantFrom('u1', 'ü-ser', 'u\u0000', 'a'.repeat(129), '用户')),
    item_id: fc.oneof(anyValue, fc.constantFrom('a', 'b', 'zzz', 'a.b', '{a}', 'a:b', '../a', 'ａ')),
    quantity: fc.oneof(anyValue, fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.bigInt().map(String)),
    extra: anyValue,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 5, arbitrary: order.map((o) => JSON.stringify(o)) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        user_id: fc.constantFrom('u1', 'u2', 'ü'),
        item_id: fc.constantFrom('a', 'b'),
        quantity: fc.integer({ min: 1, max: 3 }),
      })
      .map((o) => JSON.stringify(o)),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 5 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100, max: 2000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 1200 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '"\\ud800"', '{"quantity":1e999}', '\uFEFF{}') },
  { weight: 1, arbitrary: fc.string({ minLength: 4000, maxLength: 20_000 }) },
);
const headerValue = fc.string({ maxLength: 100 }).filter((s) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(s));
const request = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  path: fc.oneof(
    fc.constantFrom('/v1/orders', '/buy', '/v1/sale', '/v1/orders/', '/v1/orders/%zz', '/v1/orders?a=%ff'),
    fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => `/v1/orders/${encodeURIComponent(s)}`),
    fc.string({ maxLength: 80 }).map((s) => `/v1/orders/${encodeURIComponent(s)}/events`),
  ),
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'),
    },
    { weight: 1, arbitrary: headerValue },
  ),
  idem: fc.option(
    fc.oneof(
      headerValue,
      fc.string({ minLength: 200, maxLength: 400 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
    ),
    { nil: undefined },
  ),
  correlation: fc.option(headerValue, { nil: undefined }),
  xff: fc.option(headerValue, { nil: undefined }),
  body,
});

describe('gateway process under hostile input', () => {
  it('20,000 generated requests over HTTP: only 4xx/2xx, never a 5xx, the process lives, memory flat', async () => {
    const seen = new Map<number, number>();
    const fivexx: string[] = [];
    let rssWarm = 0;
    let rssMid = 0;
    let n = 0;
    const cases = fc.sample(request, { numRuns: 20_000, seed: 20261127 });
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const r = cases[i]!;
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.idem !== undefined) headers['idempotency-key'] = r.idem;
        if (r.correlation !== undefined) headers['x-correlation-id'] = r.correlation;
        if (r.xff !== undefined) headers['x-forwarded-for'] = r.xff;
        const hasBody = !['GET', 'OPTIONS'].includes(r.method);
        let status = 0;
        let text = '';
        try {
          const res = await fetch(`${gw.url}${r.path}`, {
            method: r.method,
            headers,
            ...(hasBody ? { body: r.body } : {}),
            signal: AbortSignal.timeout(15_000),
          });
          status = res.status;
          // an SSE stream of an existing order would stay open: read at most the first chunk
          const reader = res.body?.getReader();
          const first = reader ? await reader.read() : undefined;
          text = first?.value ? Buffer.from(first.value).toString().slice(0, 200) : '';
          await reader?.cancel().catch(() => undefined);
        } catch (e) {
          text = String(e);
        }
        seen.set(status, (seen.get(status) ?? 0) + 1);
        if (status >= 500 || status === 0) fivexx.push(`${r.method} ${r.path.slice(0, 80)} -> ${status} ${text}`);
        if (++n === 2000) rssWarm = rssMb(gw.child.pid!);
        if (n === 11_000) rssMid = rssMb(gw.child.pid!);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const rssEnd = rssMb(gw.child.pid!);
    process.stderr.write(
      `[fuzz-http] ${n} requests, statuses ${JSON.stringify(Object.fromEntries(seen))}, ` +
        `RSS after 2,000: ${rssWarm.toFixed(0)} MB, after 11,000: ${rssMid.toFixed(0)} MB, at the end: ${rssEnd.toFixed(0)} MB\n`,
    );
    expect(fivexx.slice(0, 10)).toEqual([]);
    expect(gw.alive).toBe(true);
    expect(seen.get(202) ?? 0).toBeGreaterThan(0);
    expect([...seen.keys()].filter((s) => s >= 400 && s < 500).length).toBeGreaterThanOrEqual(4);
    // flat: the last 18,000 requests grew the resident set by less than 64 MB
    expect(rssEnd - rssWarm).toBeLessThan(64);
    // a bound, not a speed target: 133 s on the slower of the 2-core machines this has run on
  }, 300_000);

  it('raw-socket abuse: header injection, oversized headers, huge and chunked bodies, bad framing: 4xx or closed', async () => {
    const port = gw.port;
    const order = '{"user_id":"u-raw","item_id":"a","quantity":1}';
    const post = (headers: string, bodyText: string) =>
      `POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(bodyText)}\r\n\r\n${bodyText}`;
    const cases: [string, string | Buffer][] = [
      ['CRLF in a header value', post('X-Correlation-Id: abc\rSet-Cookie: pwned=1\r\n', order)],
      ['NUL in a header value', post('Idempotency-Key: a\u0000b\r\n', order)],
      ['header folding', post('X-Correlation-Id: a\r\n b\r\n', order)],
      ['64 KB header', post(`X-Big: ${'a'.repeat(65_536)}\r\n`, order)],
      ['5 MB body', post('', `{"user_id":"${'x'.repeat(5_000_000)}"}`)],
      [
        'content-length lies (short)',
        `POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n${order}`,
      ],
      ['two content-lengths', post('Content-Length: 3\r\n', order)],
      [
        'chunked + content-length',
        `POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n`,
      ],
      [
        'chunked 8 MB',
        `POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${'100000\r\n'}${'a'.repeat(0x100000)}\r\n`.repeat(
          1,
        ) +
          `${'100000\r\n'}${'a'.repeat(0x100000)}\r\n`.repeat(7) +
          '0\r\n\r\n',
      ],
      [
        'invalid UTF-8 body',
        Buffer.concat([
          Buffer.from(post('', '\u0000'.repeat(6)).slice(0, -6)),
          Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe]),
        ]),
      ],
      ['garbage request line', 'GARBAGE\r\n\r\n'],
      ['HTTP/0.9', 'GET /\r\n'],
      ['unicode path', 'GET /v1/orders/\u00e9\u4e2d HTTP/1.1\r\nHost: x\r\n\r\n'],
    ];
    const results: Record<string, string> = {};
    for (const [name, data] of cases) results[name] = await raw(port, data);
    for (const [name, line] of Object.entries(results)) {
      // either the connection was refused by the HTTP parser (closed, or 400/413/431) or answered 4xx
      expect(line === '' || /^HTTP\/1\.1 4\d\d/.test(line), `${name}: ${line}`).toBe(true);
    }
    // an absolute URI naming another host is served as this gateway's own path (no proxying anywhere)
    expect(await raw(port, 'GET http://evil.example/v1/sale HTTP/1.1\r\nHost: evil.example\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 200/,
    );
    // the injected header never reaches a response
    const res = await raw(port, post('X-Correlation-Id: abc\rSet-Cookie: pwned=1\r\n', order));
    expect(res).not.toMatch(/pwned/);
    expect(gw.alive).toBe(true);
    const log = new BurstLog();
    expect((await postOrder(gw.url, { user_id: 'u-after', item_id: 'a', quantity: 1 }, log)).status).toBe(202);
  }, 60_000);

  it('slow clients holding 200 sockets (a byte every 500 ms) do not stop valid orders', async () => {
    const sockets = Array.from({ length: 200 }, () => connect({ port: gw.port, host: '127.0.0.1' }));
    for (const s of sockets) s.on('error', () => undefined);
    const head = 'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n';
    let i = 0;
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(head[i % head.length] ?? 'x');
      i++;
    }, 500);
    try {
      await eventually(
        'every slow socket connected and dripping',
        () => sockets.every((s) => s.bytesWritten > 0),
        10_000,
        50,
      );
      const log = new BurstLog();
      for (let k = 0; k < 20; k++) await postOrder(gw.url, { user_id: `u-slow-${k}`, item_id: 'a', quantity: 1 }, log);
      expect(log.byStatus()).toEqual({ 202: 20 });
      expect(gw.alive).toBe(true);
    } finally {
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    }
  }, 60_000);
});
