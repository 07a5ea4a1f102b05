import { describe, expect, it } from 'vitest';
import { acknowledgedPartitions } from './producer.ts';

const entry = (partition: number, errorCode = 0) => ({ topicName: 'orders', partition, errorCode, baseOffset: '0' });

describe('acknowledgedPartitions', () => {
  it('names the partitions a send() answer acknowledged', () => {
    expect([...acknowledgedPartitions([entry(0), entry(3), entry(5)])].sort()).toEqual([0, 3, 5]);
  });

  it('leaves out a partition the answer does not name (kafkajs #1303: a retry that skipped it)', () => {
    const acked = acknowledgedPartitions([entry(1)]);
    expect(acked.has(1)).toBe(true);
    expect(acked.has(4)).toBe(false);
  });

  it('leaves out an entry with an error code', () => {
    expect([...acknowledgedPartitions([entry(2, 6), entry(3)])]).toEqual([3]);
  });

  it('acknowledges nothing for an empty answer', () => {
    expect(acknowledgedPartitions([]).size).toBe(0);
  });
});
