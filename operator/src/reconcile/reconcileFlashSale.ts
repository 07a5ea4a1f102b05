/**
 * One level-based reconcile of one FlashSale, controller-runtime style:
 *   get -> deletion/finalizer -> paused? -> parse spec (terminal when invalid) -> ensure children and external
 *   state -> compute status -> write status once (when changed) -> result (requeueAfter / retry).
 */
import { PAUSED_ANNOTATION, parseFlashSaleSpec } from '@flashsale/common';
import { type FlashSaleObject, REASONS } from '../api/types.ts';
import { drainGate, pastGrace, replicaPlan, saleSchedule } from '../builders/schedule.ts';
import { errorMessage } from '../kube/client.ts';
import { computeStatus } from './computeStatus.ts';
import { conditionsOf, isTrue, setCondition, sortConditions } from './conditions.ts';
import { type Deps, ReconcileContext } from './context.ts';
import { DependencyError, type Result, TerminalError } from './errors.ts';
import { finalizeSale, manageFinalizer } from './finalizeSale.ts';
import { observeBacklog } from './observeBacklog.ts';
import { type Credentials, readCredentials } from './readCredentials.ts';
import { reconcileAutoscaling } from './reconcileAutoscaling.ts';
import { reconcileGatewayBlueGreen, removeBlueGreen } from './reconcileBlueGreen.ts';
import { reconcileConfigMap } from './reconcileConfigMap.ts';
import { reconcileDisruptionBudgets } from './reconcileDisruptionBudgets.ts';
import { reconcileGatewayDeployment } from './reconcileGatewayDeployment.ts';
import { reconcileIsolation } from './reconcileIsolation.ts';
import { reconcileMonitoring } from './reconcileMonitoring.ts';
import { reconcileProcessorDeployment } from './reconcileProcessorDeployment.ts';
import { reconcileServices } from './reconcileServices.ts';
import { reconcileTopics } from './reconcileTopics.ts';
import { seedInventory } from './seedInventory.ts';
import { forgetSaleMetrics, recordReplicas, writeStatus } from './writeStatus.ts';

/** How soon to look again while Deployments are becoming available (their informer also wakes us). */
const WAIT_FOR_WORKLOADS_MS = 5_000;
/** A condition message stays readable in `kubectl describe` (the API allows 32 KiB). */
const MAX_MESSAGE = 1024;

export async function reconcileFlashSale(deps: Deps, key: string): Promise<Result> {
  const [namespace = '', name = ''] = key.split('/');
  let sale = await deps.kube.getFlashSale(namespace, name);
  if (!sale) {
    await forgetSaleMetrics(deps, namespace, name);
    return {};
  }
  if (sale.metadata.deletionTimestamp) return finalizeSale(deps, sale);

  const now = new Date(deps.now());
  if (sale.metadata.annotations?.[PAUSED_ANNOTATION] === 'true') return reportPaused(deps, sale, now);

  const parsed = parseFlashSaleSpec(sale.spec);
  if (!parsed.ok) return reportInvalid(deps, sale, parsed.problems, now);
  const spec = parsed.spec;

  const clock = saleSchedule(spec, now.getTime());
  let ctx: ReconcileContext;
  let schedule = clock;
  try {
    sale = await manageFinalizer(deps, sale, spec.deletionPolicy);
    const creds = await readCredentials(deps, namespace, spec);
    // the backlog (consumer lag, and held units past endsAt + grace) before the plan: past endsAt + grace, the
    // processors stay until it is gone; the lag is also the number the autoscaler and the alert read (observeBacklog.ts)
    const backlog = await observeBacklog(deps, sale.metadata, spec, creds, pastGrace(clock));
    schedule = drainGate(clock, backlog);
    ctx = new ReconcileContext(deps, sale, spec, now, schedule, replicaPlan(spec, schedule.stage));
    await applyChildren(ctx, creds);
  } catch (e) {
    // an apply the API server refused (quota, admission, RBAC, an invalid object) or could not answer: the status
    // says so (Ready=False, Degraded=True, reason ReconcileError, the API server's message), then the queue retries
    await reportReconcileError(deps, sale, e, now);
    throw e;
  }

  const wasReady = isTrue(conditionsOf(sale.status), 'Ready');
  const status = computeStatus(ctx);
  const ready = isTrue(conditionsOf(status), 'Ready');
  if (ready && !wasReady) ctx.event('Normal', 'Ready', `FlashSale is ready (${status.phase})`);
  if (sale.status?.phase !== status.phase && status.phase) {
    ctx.event('Normal', 'PhaseChanged', `Phase ${sale.status?.phase ?? '(none)'} -> ${status.phase}`);
  }
  await writeStatus(deps, sale, status);
  recordReplicas(deps, sale, ctx.observed);

  if (ctx.observed.dependencyErrors.length > 0) throw new DependencyError(ctx.observed.dependencyErrors.join('; '));
  if (!ready) ctx.requeueAfter(WAIT_FOR_WORKLOADS_MS);
  if (schedule.nextChangeInMs !== undefined) ctx.requeueAfter(schedule.nextChangeInMs + 50);
  if (schedule.stage === 'live' || schedule.stage === 'warm' || schedule.stage === 'draining') {
    ctx.requeueAfter(deps.config.statusRefreshMs);
  }
  return { requeueAfterMs: ctx.requeueAfterMs };
}

/** The children on the Kubernetes side, then the Redis and Kafka side (whose failures become conditions). */
async function applyChildren(ctx: ReconcileContext, creds: Credentials): Promise<void> {
  const { spec } = ctx;
  ctx.credentials = { redis: creds.redis, kafka: creds.kafka };
  if (creds.missing.length > 0) {
    const msg = `Secret key(s) not found: ${creds.missing.join(', ')}`;
    ctx.observed.dependencyErrors.push(msg);
    ctx.event('Warning', REASONS.SecretNotFound, msg);
  }

  // Kubernetes side
  const configHash = await reconcileConfigMap(ctx);
  await reconcileIsolation(ctx);
  if (spec.upgradeStrategy.type === 'BlueGreen') await reconcileGatewayBlueGreen(ctx, configHash);
  else await reconcileGatewayDeployment(ctx, configHash);
  await reconcileProcessorDeployment(ctx, configHash);
  await reconcileServices(ctx);
  if (spec.upgradeStrategy.type !== 'BlueGreen') await removeBlueGreen(ctx);
  await reconcileDisruptionBudgets(ctx);
  await reconcileAutoscaling(ctx);
  await reconcileMonitoring(ctx);
  // Redis and Kafka side (failures become conditions; the reconcile is retried after the status is written)
  if (creds.missing.length === 0) {
    await seedInventory(ctx);
    await reconcileTopics(ctx);
  }
}

/**
 * A reconcile that threw: Ready=False and Degraded=True with reason ReconcileError and the error (as KEDA writes
 * Ready=False with the error), a Warning Event, the rest of the status kept. Best effort: when the API server is
 * the problem the write fails too, and the log and controller_runtime_reconcile_errors_total still say it.
 */
async function reportReconcileError(deps: Deps, sale: FlashSaleObject, e: unknown, now: Date): Promise<void> {
  const msg = `reconcile failed, retrying: ${errorMessage(e)}`.slice(0, MAX_MESSAGE);
  const gen = sale.metadata.generation;
  let c = setCondition(conditionsOf(sale.status), 'Ready', 'False', REASONS.ReconcileError, msg, gen, now);
  c = setCondition(c, 'Degraded', 'True', REASONS.ReconcileError, msg, gen, now);
  c = setCondition(c, 'Progressing', 'True', REASONS.Reconciling, `applying generation ${gen}`, gen, now);
  deps.recorder.event(sale, 'Warning', REASONS.ReconcileError, msg);
  await writeStatus(deps, sale, { ...sale.status, conditions: sortConditions(c) }).catch((err) =>
    deps.log.warn({ event: 'status_write_failed', err: errorMessage(err) }, 'could not write the reconcile error'),
  );
}

async function reportPaused(deps: Deps, sale: FlashSaleObject, now: Date): Promise<Result> {
  const conditions = setCondition(
    conditionsOf(sale.status),
    'Paused',
    'True',
    REASONS.Paused,
    `reconciling is paused by the annotation flashsale.dev/paused=true`,
    sale.metadata.generation,
    now,
  );
  const withProgress = setCondition(
    conditions,
    'Progressing',
    'False',
    REASONS.Paused,
    'paused',
    sale.metadata.generation,
    now,
  );
  await writeStatus(deps, sale, { ...sale.status, conditions: sortConditions(withProgress) });
  return {};
}

async function reportInvalid(deps: Deps, sale: FlashSaleObject, problems: string[], now: Date): Promise<Result> {
  const msg = `invalid spec: ${problems.join('; ')}`;
  let c = setCondition(
    conditionsOf(sale.status),
    'Ready',
    'False',
    REASONS.InvalidSpec,
    msg,
    sale.metadata.generation,
    now,
  );
  c = setCondition(c, 'Degraded', 'True', REASONS.InvalidSpec, msg, sale.metadata.generation, now);
  c = setCondition(
    c,
    'Progressing',
    'False',
    REASONS.InvalidSpec,
    'fix the spec to continue',
    sale.metadata.generation,
    now,
  );
  c = setCondition(c, 'Paused', 'False', REASONS.NotPaused, '', sale.metadata.generation, now);
  await writeStatus(deps, sale, {
    ...sale.status,
    phase: 'Failed',
    observedGeneration: sale.metadata.generation,
    conditions: sortConditions(c),
  });
  deps.recorder.event(sale, 'Warning', REASONS.InvalidSpec, msg);
  throw new TerminalError(msg);
}
