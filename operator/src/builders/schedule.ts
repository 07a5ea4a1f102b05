/**
 * Where a sale is in its life, from the clock: cold (long before), warm (pre-scaling before startsAt), live,
 * draining (after endsAt, within the grace period), statusOnly (one read-only gateway serves order status until
 * endsAt + statusRetention, nothing else runs) and over (scaled down, data kept for audit). Past endsAt + grace the
 * backlog decides too: the sale stays draining until its processors have nothing left (drainGate).
 */
import { type FlashSaleSpec, parseDurationMs } from '@flashsale/common';

export type Stage = 'cold' | 'warm' | 'live' | 'draining' | 'statusOnly' | 'over';

export interface Schedule {
  stage: Stage;
  startsAt: number;
  endsAt: number;
  /** ms until the next stage boundary (undefined when over, or draining past the grace until the backlog is gone) */
  nextChangeInMs: number | undefined;
  /** endsAt + statusRetention: until then buyers can read their orders (one read-only gateway once drained) */
  statusUntil: number;
  /** draining past endsAt + scaleDownGrace: what the sale still waits for before it scales to zero */
  waitingFor?: string;
}

/** What the processors still have to do: the group's lag, the units held (read past endsAt + grace), or why unreadable. */
export interface Backlog {
  lag?: number;
  heldUnits?: number;
  error?: string;
}

export function saleSchedule(spec: FlashSaleSpec, now: number): Schedule {
  const startsAt = Date.parse(spec.startsAt);
  const endsAt = Date.parse(spec.endsAt);
  const warmAt = startsAt - parseDurationMs(spec.autoscaling.preScale.lead);
  const drainedAt = endsAt + parseDurationMs(spec.autoscaling.scaleDownGrace);
  // a retention within the grace adds no stage: the sale's own gateway answers status while draining
  const statusUntil = endsAt + parseDurationMs(spec.statusRetention);
  const bounds: [number, Stage][] = [
    [warmAt, 'cold'],
    [startsAt, 'warm'],
    [endsAt, 'live'],
    [drainedAt, 'draining'],
    [statusUntil, 'statusOnly'],
  ];
  for (const [until, stage] of bounds) {
    if (now < until) return { stage, startsAt, endsAt, statusUntil, nextChangeInMs: until - now };
  }
  return { stage: 'over', startsAt, endsAt, statusUntil, nextChangeInMs: undefined };
}

/** Past endsAt + scaleDownGrace by the clock: the processors may go once the backlog is gone (and holds are read). */
export const pastGrace = (s: Schedule): boolean => s.stage === 'statusOnly' || s.stage === 'over';

/**
 * After endsAt + scaleDownGrace the processors stop (status-only, then over) only when nothing is left for them: no
 * consumer lag and no unit held (their sweeper is what expires holds). Until then, or while the backlog cannot be
 * read, the sale stays draining (processors at their minimum and still autoscaled, one gateway answering SALE_ENDED
 * and order status), however long that takes; the reconcile looks again every status refresh.
 */
export function drainGate(s: Schedule, backlog: Backlog): Schedule {
  if (!pastGrace(s)) return s;
  const left: string[] = [];
  if (backlog.error) left.push(backlog.error);
  if ((backlog.lag ?? 0) > 0) left.push(`consumer lag ${backlog.lag}`);
  if ((backlog.heldUnits ?? 0) > 0) left.push(`${backlog.heldUnits} unit(s) held`);
  if (!backlog.error && backlog.heldUnits === undefined) left.push('open holds not read');
  if (left.length === 0) return s;
  return { ...s, stage: 'draining', nextChangeInMs: undefined, waitingFor: left.join(', ') };
}

export interface ReplicaPlan {
  /** true when an autoscaler owns spec.replicas (then the Deployment is applied without it) */
  autoscaled: boolean;
  gateway: { replicas: number; min: number; max: number };
  processor: { replicas: number; min: number; max: number };
}

/** Replica bounds per stage. Processor replicas never exceed the orders topic's partitions. */
export function replicaPlan(spec: FlashSaleSpec, stage: Stage): ReplicaPlan {
  const a = spec.autoscaling;
  const parts = spec.topics.partitions;
  const pMax = Math.max(1, Math.min(a.processor.maxReplicas, parts));
  const pMin = Math.min(a.processor.minReplicas, pMax);
  const gMax = a.gateway.maxReplicas;
  const gMin = a.gateway.minReplicas;
  if (stage === 'over') {
    return { autoscaled: false, gateway: { replicas: 0, min: 0, max: 0 }, processor: { replicas: 0, min: 0, max: 0 } };
  }
  if (stage === 'statusOnly') {
    // the read-only gateway: one pod answers the few status reads after a sale; no autoscaler, no processor
    return { autoscaled: false, gateway: { replicas: 1, min: 1, max: 1 }, processor: { replicas: 0, min: 0, max: 0 } };
  }
  if (!a.enabled) {
    const g = stage === 'cold' ? Math.min(1, spec.gateway.replicas) : spec.gateway.replicas;
    const pWanted = Math.min(spec.processor.replicas, parts);
    const p = stage === 'cold' ? Math.min(1, pWanted) : pWanted;
    return { autoscaled: false, gateway: { replicas: g, min: g, max: g }, processor: { replicas: p, min: p, max: p } };
  }
  let gFloor = gMin;
  let pFloor = pMin;
  if (stage === 'cold') {
    gFloor = 1;
    pFloor = 1;
  } else if (stage === 'warm') {
    gFloor = clamp(a.preScale.gatewayReplicas ?? Math.max(gMin, Math.ceil(gMax / 2)), 1, gMax);
    pFloor = clamp(a.preScale.processorReplicas ?? pMax, 1, pMax);
  } else if (stage === 'draining') {
    gFloor = 1;
    pFloor = pMin;
  }
  return {
    autoscaled: true,
    gateway: { replicas: gFloor, min: gFloor, max: Math.max(gFloor, gMax) },
    processor: { replicas: pFloor, min: pFloor, max: Math.max(pFloor, pMax) },
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
