/**
 * The FlashSale controller: informers (FlashSales, and the Deployments the operator manages, mapped to their sale)
 * feed a work queue of `namespace/name` keys; workers run one reconcile per key at a time; results steer the queue:
 * success forgets the key's backoff, requeueAfter re-adds it later, errors back off exponentially per key, terminal
 * errors are not retried. A periodic resync re-adds every known sale.
 */
import { FLASHSALE_GROUP, FLASHSALE_PLURAL, FLASHSALE_VERSION, type Logger } from '@flashsale/common';
import type { KubernetesListObject, V1Deployment } from '@kubernetes/client-node';
import { CONTROLLER_NAME, type FlashSaleObject, LABELS, MANAGED_BY } from '../api/types.ts';
import type { OperatorConfig } from '../config.ts';
import type { Kube } from '../kube/client.ts';
import { errorMessage } from '../kube/client.ts';
import { ManagedInformer } from '../kube/informer.ts';
import type { OperatorMetrics } from '../metrics.ts';
import { DependencyError, type Result, TerminalError } from '../reconcile/errors.ts';
import { WorkQueue } from './workQueue.ts';

export type ReconcileFn = (key: string) => Promise<Result>;

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Enqueue a FlashSale update only when the spec, annotations, finalizers or deletion changed (not our own status). */
function specOrMetaChanged(o: FlashSaleObject, old: FlashSaleObject | undefined): boolean {
  if (!old) return true;
  const a = o.metadata;
  const b = old.metadata;
  return (
    a.generation !== b.generation ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []) ||
    String(a.deletionTimestamp ?? '') !== String(b.deletionTimestamp ?? '')
  );
}

export class Controller {
  /** replaced on every loss of leadership (a shut-down queue hands out nothing) */
  queue: WorkQueue;
  private readonly cfg: OperatorConfig;
  private readonly log: Logger;
  private readonly metrics: OperatorMetrics;
  private readonly reconcile: ReconcileFn;
  readonly sales: ManagedInformer<FlashSaleObject & { metadata: never }>;
  readonly deployments: ManagedInformer<V1Deployment>;
  private workersRunning = false;
  private workers: Promise<void>[] = [];
  private previousTerm: Promise<void> = Promise.resolve();
  private resyncTimer: NodeJS.Timeout | undefined;
  /** keys being reconciled right now (never two reconciles of one key: asserted in tests) */
  readonly inFlight = new Set<string>();

  constructor(kube: Kube, cfg: OperatorConfig, log: Logger, metrics: OperatorMetrics, reconcile: ReconcileFn) {
    this.cfg = cfg;
    this.log = log;
    this.metrics = metrics;
    this.reconcile = reconcile;
    this.queue = new WorkQueue(cfg.backoff, metrics.queueMetrics());
    const ns = cfg.watchNamespace;
    const salesPath = ns
      ? `/apis/${FLASHSALE_GROUP}/${FLASHSALE_VERSION}/namespaces/${ns}/${FLASHSALE_PLURAL}`
      : `/apis/${FLASHSALE_GROUP}/${FLASHSALE_VERSION}/${FLASHSALE_PLURAL}`;
    const g = { group: FLASHSALE_GROUP, version: FLASHSALE_VERSION, plural: FLASHSALE_PLURAL };
    const listSales = async () =>
      (ns
        ? await kube.custom.listNamespacedCustomObject({ ...g, namespace: ns })
        : await kube.custom.listClusterCustomObject(g)) as KubernetesListObject<never>;
    this.sales = new ManagedInformer(
      kube.kc,
      'flashsales',
      salesPath,
      listSales,
      {
        add: (o) => this.queue.add(keyOf(o)),
        update: (o, old) => {
          if (specOrMetaChanged(o as FlashSaleObject, old as FlashSaleObject | undefined)) this.queue.add(keyOf(o));
        },
        delete: (o) => this.queue.add(keyOf(o)),
      },
      log,
    );
    const selector = `${LABELS.managedBy}=${MANAGED_BY}`;
    const depPath = ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments';
    const listDeps = () =>
      ns
        ? kube.apps.listNamespacedDeployment({ namespace: ns, labelSelector: selector })
        : kube.apps.listDeploymentForAllNamespaces({ labelSelector: selector });
    const toOwner = (d: V1Deployment) => {
      const sale = d.metadata?.labels?.[LABELS.sale];
      if (sale && d.metadata?.namespace) this.queue.add(`${d.metadata.namespace}/${sale}`);
    };
    this.deployments = new ManagedInformer(
      kube.kc,
      'deployments',
      depPath,
      listDeps,
      {
        add: toOwner,
        update: (d, old) => {
          if (
            JSON.stringify(d.status) !== JSON.stringify(old?.status) ||
            d.metadata?.generation !== old?.metadata?.generation
          )
            toOwner(d);
        },
        delete: toOwner,
      },
      log,
      selector,
    );
  }

  async startInformers(): Promise<void> {
    await Promise.all([this.sales.start(), this.deployments.start()]);
    this.resyncTimer = setInterval(() => this.resync(), this.cfg.resyncPeriodMs);
    this.resyncTimer.unref?.();
  }

  resync(): void {
    for (const s of this.sales.list()) this.queue.add(keyOf(s));
  }

  /** Start the workers (on becoming leader), after the workers of an earlier term have finished. */
  startWorkers(): void {
    if (this.workersRunning) return;
    this.workersRunning = true;
    const q = this.queue;
    void this.previousTerm.then(() => {
      if (!this.workersRunning || q !== this.queue) return;
      this.resync();
      for (let i = 0; i < this.cfg.maxConcurrentReconciles; i++) this.workers.push(this.worker(q));
    });
  }

  private async worker(q: WorkQueue): Promise<void> {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      await this.process(q, key);
      q.done(key);
    }
  }

  private async process(q: WorkQueue, key: string): Promise<void> {
    if (this.inFlight.has(key)) throw new Error(`bug: concurrent reconcile of ${key}`);
    this.inFlight.add(key);
    const end = this.metrics.reconcileTime.startTimer({ controller: CONTROLLER_NAME });
    try {
      const res = await this.reconcile(key);
      q.forget(key);
      if (res.requeueAfterMs !== undefined) {
        q.addAfter(key, res.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ controller: CONTROLLER_NAME, result: 'requeue_after' });
      } else {
        this.metrics.reconcileTotal.inc({ controller: CONTROLLER_NAME, result: 'success' });
      }
    } catch (e) {
      this.metrics.reconcileErrors.inc({ controller: CONTROLLER_NAME });
      this.metrics.reconcileTotal.inc({ controller: CONTROLLER_NAME, result: 'error' });
      if (e instanceof TerminalError) {
        q.forget(key);
        this.log.warn(
          { event: 'reconcile_terminal', key, err: e.message },
          'terminal error: not retried until the spec changes',
        );
      } else {
        const delay = q.addRateLimited(key);
        const level = e instanceof DependencyError ? 'warn' : 'error';
        this.log[level]({ event: 'reconcile_error', key, err: errorMessage(e), retryInMs: delay }, 'reconcile failed');
      }
    } finally {
      end();
      this.inFlight.delete(key);
    }
  }

  /** Stop the workers (on losing leadership or shutdown); waits for running reconciles; a fresh queue is ready. */
  async stopWorkers(): Promise<void> {
    this.workersRunning = false;
    const old = this.queue;
    this.queue = new WorkQueue(this.cfg.backoff, this.metrics.queueMetrics());
    old.shutDown();
    const workers = this.workers;
    this.workers = [];
    this.previousTerm = this.previousTerm.then(() => Promise.all(workers)).then(() => undefined);
    await this.previousTerm;
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    await this.stopWorkers();
    this.queue.shutDown();
    await Promise.all([this.sales.stop(), this.deployments.stop()]);
  }

  get synced(): boolean {
    return this.sales.synced && this.deployments.synced;
  }
}
