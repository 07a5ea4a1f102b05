/** The status from what this reconcile observed: conditions, phase, per-item counts, endpoint. Pure. */
import { SALE_PHASES, topics } from '@flashsale/common';
import { type FlashSaleStatus, type Phase, REASONS } from '../api/types.ts';
import { gatewayEndpoint } from '../builders/buildServices.ts';
import { isTrue, sortConditions } from './conditions.ts';
import type { ReconcileContext } from './context.ts';

export function computeStatus(ctx: ReconcileContext): FlashSaleStatus {
  const { observed: o, spec, schedule } = ctx;
  const g = o.gateway;
  const p = o.processor;
  const over = schedule.stage === 'over';
  const statusOnly = schedule.stage === 'statusOnly';
  if (g && p) {
    const ok = g.available && p.available;
    ctx.condition(
      'WorkloadsAvailable',
      ok ? 'True' : 'False',
      ok ? (over || statusOnly ? REASONS.ScaledDown : REASONS.DeploymentsAvailable) : REASONS.DeploymentsNotAvailable,
      `${g.message}; ${p.message}`,
    );
  }
  const seeded = isTrue(ctx.conditions, 'InventorySeeded');
  const topicsOk = isTrue(ctx.conditions, 'TopicsReady');
  const workloadsOk = isTrue(ctx.conditions, 'WorkloadsAvailable');
  const ready = seeded && topicsOk && workloadsOk && o.dependencyErrors.length === 0;
  const deadline = Boolean(g?.progressDeadlineExceeded || p?.progressDeadlineExceeded);

  const refused = o.seedRefused;
  if (ready) {
    const until = new Date(schedule.statusUntil).toISOString();
    const msg = over
      ? 'sale over; data kept for audit'
      : statusOnly
        ? `sale over; order status served read-only until ${until}`
        : 'sale is ready';
    ctx.condition('Ready', 'True', REASONS.Reconciled, msg);
  } else if (o.dependencyErrors.length > 0) {
    ctx.condition('Ready', 'False', REASONS.WaitingForDependencies, o.dependencyErrors.join('; '));
  } else if (refused) {
    ctx.condition('Ready', 'False', refused.reason, refused.message);
  } else {
    const waiting = [!seeded && 'inventory', !topicsOk && 'topics', !workloadsOk && 'workloads'].filter(Boolean);
    ctx.condition('Ready', 'False', REASONS.WaitingForWorkloads, `waiting for ${waiting.join(', ')}`);
  }
  ctx.condition(
    'Progressing',
    ready ? 'False' : 'True',
    ready ? REASONS.Reconciled : REASONS.Reconciling,
    ready ? `generation ${ctx.generation} applied` : `applying generation ${ctx.generation}`,
  );
  const rolloutPhase = o.rollout?.phase;
  if (rolloutPhase === 'Progressing' || rolloutPhase === 'Paused') {
    ctx.condition(
      'Progressing',
      'True',
      rolloutPhase === 'Paused' ? REASONS.RolloutPaused : REASONS.RollingOut,
      `gateway blue-green: ${o.rollout?.message ?? rolloutPhase}`,
    );
  }
  const aborted = rolloutPhase === 'Aborted';
  if (aborted) {
    ctx.condition('Degraded', 'True', REASONS.RolloutAborted, o.rollout?.message ?? 'blue-green rollout aborted');
  } else if (refused) {
    ctx.condition('Degraded', 'True', refused.reason, refused.message);
  } else if (o.dependencyErrors.length > 0 || deadline) {
    const msg = [...o.dependencyErrors, deadline ? 'a Deployment exceeded its progress deadline' : '']
      .filter(Boolean)
      .join('; ');
    ctx.condition('Degraded', 'True', REASONS.ReconcileError, msg);
  } else {
    ctx.condition('Degraded', 'False', REASONS.AsExpected, '');
  }
  ctx.condition('Paused', 'False', REASONS.NotPaused, '');

  const audit = new Map((o.inventory ?? []).map((a) => [a.itemId, a]));
  const prevItems = new Map((ctx.sale.status?.items ?? []).map((i) => [i.id, i]));
  const items = spec.items.map((it) => {
    const a = audit.get(it.id);
    if (!a) {
      const prev = prevItems.get(it.id);
      return prev
        ? { ...prev, quantity: it.quantity }
        : { id: it.id, quantity: it.quantity, remaining: it.quantity, sold: 0 };
    }
    return { id: it.id, quantity: a.initial, remaining: a.remaining, sold: a.confirmed, held: a.held };
  });
  const totalQuantity = items.reduce((s, i) => s + i.quantity, 0);
  const totalSold = items.reduce((s, i) => s + i.sold, 0);
  const remaining = items.reduce((s, i) => s + i.remaining, 0);

  let phase: Phase;
  if (over || statusOnly || schedule.stage === 'draining') phase = 'Ended';
  else if (!ready) phase = 'Pending';
  else if (schedule.stage === 'live') phase = o.inventory && remaining === 0 ? 'SoldOut' : 'Live';
  else phase = 'Scheduled';

  const t = topics(ctx.ref.name);
  const partitions = o.topics?.partitions[t.orders] ?? ctx.sale.status?.topics?.partitions;
  return {
    phase,
    observedGeneration: ctx.generation,
    conditions: sortConditions(ctx.conditions),
    items,
    totalQuantity,
    totalSold,
    soldSummary: `${totalSold}/${totalQuantity}`,
    gatewayEndpoint: gatewayEndpoint(ctx.ref, spec),
    ...(partitions === undefined ? {} : { topics: { orders: t.orders, dlq: t.dlq, partitions } }),
    ...(g ? { gatewayReplicas: g.ready } : {}),
    ...(p ? { processorReplicas: p.ready } : {}),
    ...(o.rollout ? { rollout: o.rollout } : {}),
  };
}

export const phases = SALE_PHASES;
