import { CONDITION_TYPES, type FlashSaleStatus } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/types.ts';
import { conditionsOf, setCondition, sortConditions } from './conditions.ts';

const at = '2026-11-28T08:00:00Z';
const stored = (type: string): NonNullable<FlashSaleStatus['conditions']>[number] => ({
  type,
  status: 'True',
  reason: 'R',
  message: '',
  lastTransitionTime: at,
});

describe('conditions', () => {
  it('Condition.type is one of the condition constants, not any string', () => {
    // @ts-expect-error 'Bogus' is not a ConditionType
    const bad: Condition = { type: 'Bogus', status: 'True', reason: 'R', message: '', lastTransitionTime: at };
    const ok: Condition = { type: 'Ready', status: 'True', reason: 'R', message: '', lastTransitionTime: at };
    expect(CONDITION_TYPES).toContain(ok.type);
    expect(CONDITION_TYPES).not.toContain(bad.type);
  });

  it('reads the stored conditions it knows (typed) and leaves out types of another version', () => {
    const status: FlashSaleStatus = { conditions: [stored('Ready'), stored('FromANewerVersion'), stored('Degraded')] };
    expect(conditionsOf(status).map((c) => c.type)).toEqual(['Ready', 'Degraded']);
    expect(conditionsOf(undefined)).toEqual([]);
  });

  it('sorts in the order of CONDITION_TYPES, and keeps lastTransitionTime while the status does not flip', () => {
    const now = new Date('2026-11-28T09:00:00Z');
    let c = setCondition([], 'TopicsReady', 'True', 'TopicsCreated', '', 1, now);
    c = setCondition(c, 'Ready', 'False', 'ReconcileError', 'x', 1, now);
    c = setCondition(c, 'Degraded', 'True', 'ReconcileError', 'x', 1, now);
    expect(sortConditions(c).map((x) => x.type)).toEqual(['Ready', 'Degraded', 'TopicsReady']);
    const later = setCondition(c, 'Ready', 'False', 'ReconcileError', 'y', 2, new Date('2026-11-28T10:00:00Z'));
    expect(later.find((x) => x.type === 'Ready')).toMatchObject({
      message: 'y',
      lastTransitionTime: '2026-11-28T09:00:00Z',
    });
  });
});
