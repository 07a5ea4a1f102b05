/** Condition bookkeeping, kstatus/metav1 style: lastTransitionTime changes only when the status flips. */
import { CONDITION_TYPES, type FlashSaleStatus } from '@flashsale/common';
import type { Condition, ConditionType, Reason } from '../api/types.ts';

export type Status = Condition['status'];

export function setCondition(
  list: Condition[],
  type: ConditionType,
  status: Status,
  reason: Reason,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const prev = list.find((c) => c.type === type);
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      prev && prev.status === status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  return [...list.filter((c) => c.type !== type), next];
}

export const getCondition = (list: Condition[] | undefined, type: ConditionType) => list?.find((c) => c.type === type);

export const isTrue = (list: Condition[] | undefined, type: ConditionType) =>
  getCondition(list, type)?.status === 'True';

const isConditionType = (t: string): t is ConditionType => (CONDITION_TYPES as readonly string[]).includes(t);

/**
 * The stored conditions this operator owns, typed: the CRD keeps `type` a free string (as metav1.Condition does), so
 * a type this version does not know (written by another version) is left out and dropped at the next status write.
 */
export function conditionsOf(status: FlashSaleStatus | undefined): Condition[] {
  return (status?.conditions ?? []).flatMap((c) => (isConditionType(c.type) ? [{ ...c, type: c.type }] : []));
}

/** Stable order (that of CONDITION_TYPES) so an unchanged status compares equal. */
export function sortConditions(list: Condition[]): Condition[] {
  return [...list].sort((a, b) => CONDITION_TYPES.indexOf(a.type) - CONDITION_TYPES.indexOf(b.type));
}
