/**
 * PrometheusRule and ServiceMonitor, only when monitoring.coreos.com/v1 is served (API discovery). Without the
 * Prometheus Operator the sale still runs: MonitoringReady=False with the reason, never a failed reconcile.
 */
import { childNames, REASONS } from '../api/types.ts';
import { buildPrometheusRule, buildServiceMonitor, MONITORING_GROUP_VERSION } from '../builders/buildMonitoring.ts';
import type { ReconcileContext } from './context.ts';
import { ensureAbsent, ensureApplied } from './ensure.ts';

export async function reconcileMonitoring(ctx: ReconcileContext): Promise<void> {
  const m = ctx.spec.monitoring;
  if (!(await ctx.deps.kube.hasGroupVersion(MONITORING_GROUP_VERSION))) {
    ctx.condition(
      'MonitoringReady',
      'False',
      REASONS.PrometheusOperatorNotInstalled,
      `${MONITORING_GROUP_VERSION} is not served: install the Prometheus Operator CRDs for alerts and scraping`,
    );
    return;
  }
  const names = childNames(ctx.ref.name);
  const made: string[] = [];
  if (m.prometheusRule) {
    await ensureApplied(ctx, buildPrometheusRule(ctx.ref, ctx.spec, ctx.deps.config.runbookUrl));
    made.push(`PrometheusRule ${names.rule}`);
  } else {
    await ensureAbsent(ctx, MONITORING_GROUP_VERSION, 'PrometheusRule', names.rule);
  }
  if (m.serviceMonitor) {
    await ensureApplied(ctx, buildServiceMonitor(ctx.ref, ctx.spec));
    made.push(`ServiceMonitor ${names.monitor}`);
  } else {
    await ensureAbsent(ctx, MONITORING_GROUP_VERSION, 'ServiceMonitor', names.monitor);
  }
  if (made.length === 0) {
    ctx.condition('MonitoringReady', 'True', REASONS.MonitoringDisabled, 'monitoring switched off in spec.monitoring');
  } else {
    ctx.condition('MonitoringReady', 'True', REASONS.MonitoringCreated, made.join(', '));
  }
}
