/**
 * Blue-green gateway objects (Argo Rollouts / Flagger style, without either installed): one Deployment per colour
 * (`<sale>-gateway-blue|green`, selector and pods labelled `flashsale.dev/colour`), the active Service
 * `<sale>-gateway` selecting the active colour, and `<sale>-gateway-preview` selecting the other one. Which template
 * a colour runs is recorded as a hash annotation, so "has the gateway changed?" is one string comparison.
 */
import { createHash } from 'node:crypto';
import type { FlashSaleSpec, GatewayColour, RolloutAnalysis, RolloutStatus } from '@flashsale/common';
import { COLOUR_LABEL, childNames, TEMPLATE_HASH_ANNOTATION } from '../api/types.ts';
import type { buildGatewayDeployment } from './buildDeployments.ts';
import { childMeta, type SaleRef, selectorLabels } from './meta.ts';

type GatewayDeployment = ReturnType<typeof buildGatewayDeployment>;

export const otherColour = (c: GatewayColour): GatewayColour => (c === 'blue' ? 'green' : 'blue');

/** Stable JSON (sorted keys) so the hash does not depend on property order. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Hash of the gateway pod template (before colour labels): a change of image, env, config hash... changes it. */
export function gatewayTemplateHash(d: GatewayDeployment): string {
  return createHash('sha256').update(stable(d.spec.template)).digest('hex').slice(0, 10);
}

export const colourSelector = (sale: string, colour: GatewayColour) => ({
  ...selectorLabels(sale, 'gateway'),
  [COLOUR_LABEL]: colour,
});

/** The gateway Deployment turned into one colour's Deployment; `replicas` undefined: left to the HPA. */
export function buildColourDeployment(
  base: GatewayDeployment,
  sale: SaleRef,
  colour: GatewayColour,
  templateHash: string,
  replicas: number | undefined,
) {
  const { replicas: _ignored, ...spec } = base.spec as GatewayDeployment['spec'] & { replicas?: number };
  const selector = colourSelector(sale.name, colour);
  return {
    ...base,
    metadata: {
      ...childMeta(sale, childNames(sale.name).gatewayColour(colour), 'gateway', { [COLOUR_LABEL]: colour }),
      annotations: { [TEMPLATE_HASH_ANNOTATION]: templateHash },
    },
    spec: {
      ...spec,
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selector },
      template: {
        ...spec.template,
        metadata: {
          ...spec.template.metadata,
          labels: { ...spec.template.metadata.labels, ...selector },
        },
      },
    },
  };
}

/** Only `spec.replicas` of a Deployment, applied under its own field manager (HPA hand-over, scale-down). */
export const replicasOnly = (sale: SaleRef, name: string, replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: sale.namespace },
  spec: { replicas },
});

function gatewayService(sale: SaleRef, spec: FlashSaleSpec, name: string, selector: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(sale, name, 'gateway'),
    spec: {
      type: spec.gateway.service.type,
      selector,
      ports: [{ name: 'http', port: spec.gateway.service.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** The sale's endpoint: selects the active colour (or, while migrating from Rolling, every gateway pod). */
export const buildActiveService = (sale: SaleRef, spec: FlashSaleSpec, colour: GatewayColour | undefined) =>
  gatewayService(
    sale,
    spec,
    childNames(sale.name).gateway,
    colour ? colourSelector(sale.name, colour) : selectorLabels(sale.name, 'gateway'),
  );

/**
 * A preview shares live orders while it is analysed with `previewTraffic: Shared` (the default): in the Analysis step
 * the sale's Service selects the pods of both colours, each pod taking an equal share, so the preview's 5xx share and
 * latency come from real buyers. Paused, aborted or promoted: one colour again.
 */
export const sharesLiveTraffic = (r: RolloutStatus, analysis: RolloutAnalysis | undefined): boolean =>
  analysis?.previewTraffic === 'Shared' && r.phase === 'Progressing' && r.step === 'Analysis';

/**
 * The pods the sale's Service selects: the active colour, or (undefined) every gateway pod, while migrating from
 * Rolling (the old Deployment serves until the active colour has Ready pods) and while a preview shares live traffic.
 */
export function activeSelection(
  r: RolloutStatus & { activeColour: GatewayColour },
  opts: { legacyServing: boolean; analysis: RolloutAnalysis | undefined },
): GatewayColour | undefined {
  if (opts.legacyServing || sharesLiveTraffic(r, opts.analysis)) return undefined;
  return r.activeColour;
}

/** The preview Service (analysis, smoke tests): always the other colour (after a promotion: the rollback side). */
export const buildPreviewService = (sale: SaleRef, spec: FlashSaleSpec, colour: GatewayColour) => ({
  ...gatewayService(sale, spec, childNames(sale.name).gatewayPreview, colourSelector(sale.name, colour)),
  spec: {
    type: 'ClusterIP',
    selector: colourSelector(sale.name, colour),
    ports: [{ name: 'http', port: spec.gateway.service.port, targetPort: 'http', protocol: 'TCP' }],
  },
});
