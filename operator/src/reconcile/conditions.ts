/** Condition bookkeeping, kstatus/metav1 style: lastTransitionTime changes only when the status flips. */
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

const ORDER: ConditionType[] = [
  'Ready',
  'Progressing',
  'Degraded',
  'Paused',
  'InventorySeeded',
  'TopicsReady',
  'WorkloadsAvailable',
  'ScalingReady',
  'MonitoringReady',
];

/** Stable order so an unchanged status compares equal. */
export function sortConditions(list: Condition[]): Condition[] {
  return [...list].sort((a, b) => ORDER.indexOf(a.type as ConditionType) - ORDER.indexOf(b.type as ConditionType));
}
