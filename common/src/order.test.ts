import { describe, expect, it } from 'vitest';
import { itemOfOrderId, newOrderId, orderIdSchema } from './order.ts';

describe('order ids', () => {
  it('are stable for one (sale, user, key) and differ otherwise', () => {
    const a = newOrderId('s1', 'item-1', 'u1', 'k1');
    expect(newOrderId('s1', 'item-1', 'u1', 'k1')).toBe(a);
    expect(newOrderId('s1', 'item-1', 'u1', 'k2')).not.toBe(a);
    expect(newOrderId('s1', 'item-1', 'u2', 'k1')).not.toBe(a);
    expect(newOrderId('s2', 'item-1', 'u1', 'k1')).not.toBe(a);
  });
  it('are the ids every earlier release computed (a retry served by the other colour of a blue-green upgrade)', () => {
    expect(newOrderId('s1', 'item-1', 'u1', 'k1')).toBe('item-1.ad9a2787f92bcb6c26b1b49cfee9ee0a');
  });
  it('carry their item and match the schema', () => {
    const id = newOrderId('s1', 'hot_item-7', 'u1', 'k1');
    expect(itemOfOrderId(id)).toBe('hot_item-7');
    expect(orderIdSchema.safeParse(id).success).toBe(true);
    expect(() => itemOfOrderId('nodot')).toThrow(/malformed order id/);
  });
});
