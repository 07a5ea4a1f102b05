/**
 * The PromQL of a sale's signals that its autoscalers and its alerts both read, so that scaling and alerting count
 * the same thing, once per sale and never once per pod. KEDA's ScaledObjects (operator), the prometheus-adapter
 * rules (examples/) and the PrometheusRule (alerts.ts) are built from these.
 */
import { GATEWAY_METRICS as G, OPERATOR_METRICS as O } from './metrics.ts';

/** The target label that names the sale on every gateway and processor series (and on the operator's lag). */
export const SALE_METRIC_LABEL = 'sale';

/** PromQL matchers of one sale's series: `sale="<name>"` and, when given, `namespace="<ns>"`. */
export function saleMatchers(sale: string, namespace?: string): string {
  const m = [`${SALE_METRIC_LABEL}=${JSON.stringify(sale)}`];
  if (namespace) m.push(`namespace=${JSON.stringify(namespace)}`);
  return m.join(',');
}

/**
 * The processor group's lag on the sale's orders topic (messages not yet committed), one number per sale. The
 * operator's leader reads it from the brokers (committed offsets against end offsets, each partition once) and
 * exports it as `flashsale_consumer_lag{namespace,sale}`, so it does not depend on how many processors run, or on any
 * running at all. `max` because during a leader hand-over two operator pods may briefly report it.
 */
export function consumerLagQuery(matchers: string, by = `namespace, ${SALE_METRIC_LABEL}`): string {
  return `max by (${by}) (${O.saleConsumerLag}{${matchers}})`;
}

/** Requests per second over all gateway pods of the sale (KEDA divides by the replica count itself). */
export function gatewayRequestRateQuery(matchers: string, by = `namespace, ${SALE_METRIC_LABEL}`): string {
  return `sum by (${by}) (rate(${G.httpRequests}{${matchers}}[1m]))`;
}
