import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { compiledCheck } from './compiled-check.ts';
import { decodeOrder, encodeOrder, type OrderMessage, orderMessageSchema } from './order.ts';

const valid: OrderMessage = {
  v: 1,
  order_id: 'item-1.ad9a2787f92bcb6c26b1b49cfee9ee0a',
  sale: 'spring-sale',
  item_id: 'item-1',
  user_id: 'user-42',
  quantity: 2,
  request_id: 'k-1',
  correlation_id: 'c8a6f3a2-1111-4444-8888-123456789abc',
  created_at: '2026-12-06T14:00:00.000Z',
};

const astral = '\u{1F600}'; // two UTF-16 units, one code point
const values: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  101,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  '',
  ' ',
  'a'.repeat(53),
  'a'.repeat(54),
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(128),
  'a'.repeat(129),
  astral.repeat(64),
  astral.repeat(65),
  astral.repeat(128),
  astral.repeat(129),
  'item 1',
  'Item_1',
  'item-1.',
  '.x',
  'item-1.abc',
  'item-1.a.b',
  'ü',
  'a\nb',
  '-sale',
  'sale-',
  '2026-12-06T14:00:00Z',
  '2026-12-06T14:00:00.123456Z',
  '2026-12-06T14:00:00+01:00',
  '2026-12-06 14:00:00Z',
  '2026-02-29T00:00:00Z',
  '2028-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '1',
  true,
  [],
  {},
  '1e3',
];

/** Every field replaced by every value, one at a time; plus a missing field and an extra one. */
function variants(): { name: string; value: unknown }[] {
  const out: { name: string; value: unknown }[] = [];
  for (const field of Object.keys(valid)) {
    for (const v of values) {
      const m: Record<string, unknown> = { ...valid, [field]: v };
      if (v === undefined) delete m[field];
      out.push({ name: `${field}=${JSON.stringify(v)?.slice(0, 40)}`, value: m });
    }
  }
  out.push({ name: 'an unknown field', value: { ...valid, extra: 1 } });
  out.push({ name: 'not an object', value: 'order' });
  out.push({ name: 'an array', value: [valid] });
  return out;
}

describe('the order check compiled from the zod schema (compiled-check.ts)', () => {
  it('gives zod verdict on every variant of a valid message', () => {
    const all = variants();
    expect(all.length).toBeGreaterThan(300);
    const check = compiledCheck(orderMessageSchema);
    const differ = all.filter(({ value }) => {
      // what a message carries: JSON drops undefined and turns Infinity into null
      const onWire = JSON.parse(JSON.stringify(value) ?? 'null');
      const zodOk = orderMessageSchema.safeParse(onWire).success;
      // ajv's own verdict: a value it accepts comes back as itself, one it refuses goes to zod (a copy, or a throw),
      // so a check stricter than zod shows here too, not only a looser one
      let compiledOk: boolean;
      try {
        compiledOk = check(onWire) === onWire;
      } catch {
        compiledOk = false;
      }
      return compiledOk !== zodOk;
    });
    expect(differ.map((d) => d.name)).toEqual([]);
    // both sides refuse some and accept some: the variants test something
    const accepted = all.filter(({ value }) => orderMessageSchema.safeParse(value).success).length;
    expect(accepted).toBeGreaterThan(20);
    expect(accepted).toBeLessThan(all.length - 200);
  });

  it('returns the message itself when valid, and throws zod error naming the field when not', () => {
    expect(decodeOrder(Buffer.from(JSON.stringify(valid)))).toEqual(valid);
    expect(JSON.parse(encodeOrder(valid).toString())).toEqual(valid);
    const bad = { ...valid, quantity: 0 };
    expect(() => encodeOrder(bad)).toThrow(ZodError);
    try {
      decodeOrder(Buffer.from(JSON.stringify({ ...valid, user_id: 'a b' })));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ZodError);
      expect((e as ZodError).issues[0]?.path).toEqual(['user_id']);
    }
    expect(() => decodeOrder(Buffer.from('{"v":1'))).toThrow(SyntaxError);
    expect(() => decodeOrder(null)).toThrow(/no value/);
  });
});
