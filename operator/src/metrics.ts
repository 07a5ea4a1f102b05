/** The operator's metrics, with controller-runtime names (common/src/metrics.ts), in a registry per operator. */
import { OPERATOR_METRICS as M } from '@flashsale/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CONTROLLER_NAME } from './api/types.ts';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: M.reconcileTotal,
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: M.reconcileErrors,
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: M.reconcileTime,
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: M.workqueueDepth,
    help: 'Current depth of workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly workqueueAdds = new Counter({
    name: M.workqueueAdds,
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly workqueueRetries = new Counter({
    name: M.workqueueRetries,
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: M.leaderStatus,
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly salePhase = new Gauge({
    name: M.salePhase,
    help: 'Phase of a FlashSale (1 for the current phase)',
    labelNames: ['namespace', 'name', 'phase'] as const,
    registers: [this.registry],
  });
  readonly saleSold = new Gauge({
    name: M.saleSold,
    help: 'Units sold (confirmed) per item',
    labelNames: ['namespace', 'name', 'item_id'] as const,
    registers: [this.registry],
  });
  readonly saleRemaining = new Gauge({
    name: M.saleRemaining,
    help: 'Units remaining per item',
    labelNames: ['namespace', 'name', 'item_id'] as const,
    registers: [this.registry],
  });
  /**
   * Labelled `sale` (not `name`) like the sale's own series, so one selector reads it beside them: the processor's
   * autoscaler and the lag alert (common/src/sale-queries.ts). The chart's ServiceMonitor keeps these labels
   * (honorLabels), so `namespace` is the sale's, not the operator's.
   */
  readonly saleConsumerLag = new Gauge({
    name: M.saleConsumerLag,
    help: "Messages of a sale's orders topic not yet committed by its processor group (summed over partitions)",
    labelNames: ['namespace', 'sale'] as const,
    registers: [this.registry],
  });
  /** replicas of a sale's Deployments: desired (what the autoscaler decided, or the plan) and ready; `sale` label too */
  readonly saleReplicas = new Gauge({
    name: M.saleReplicas,
    help: "Replicas of a sale's gateway and processor Deployments: state desired (the autoscaler's decision) or ready",
    labelNames: ['namespace', 'sale', 'component', 'state'] as const,
    registers: [this.registry],
  });

  queueMetrics() {
    return {
      depth: (n: number) => this.workqueueDepth.set({ name: CONTROLLER_NAME }, n),
      add: () => this.workqueueAdds.inc({ name: CONTROLLER_NAME }),
      retry: () => this.workqueueRetries.inc({ name: CONTROLLER_NAME }),
    };
  }

  /** Reconcile count of one result (for tests and the status of the operator). */
  async count(result?: string): Promise<number> {
    const m = await this.reconcileTotal.get();
    return m.values.filter((v) => result === undefined || v.labels.result === result).reduce((a, v) => a + v.value, 0);
  }
}
