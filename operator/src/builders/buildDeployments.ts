/**
 * Gateway and processor Deployments: restricted pod security, probes on the right endpoints, configuration from the
 * sale's ConfigMap plus per-component variables, user env last (overrides). `replicas` is left out whenever an
 * autoscaler owns it.
 */
import {
  envList,
  type FlashSaleSpec,
  gatewayEnv,
  gatewaySecretEnv,
  parseDurationMs,
  processorEnv,
  readOnlyGatewayEnv,
  tlsCaMounts,
} from '@flashsale/common';
import { CONFIG_HASH_ANNOTATION, childNames } from '../api/types.ts';
import { childMeta, type SaleRef, selectorLabels } from './meta.ts';

export interface WorkloadDefaults {
  gatewayImage: string;
  processorImage: string;
  gatewayCommand: string[];
  processorCommand: string[];
}

export const GATEWAY_PORT = 8080;
export const PROCESSOR_METRICS_PORT = 9090;

type EnvVar = { name: string; value?: string; valueFrom?: unknown };

const secretEnv = (name: string, ref: { name: string; key: string } | undefined): EnvVar[] =>
  ref ? [{ name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }] : [];

function credentialEnv(spec: FlashSaleSpec): EnvVar[] {
  const sasl = spec.kafka.sasl;
  return [
    ...secretEnv('REDIS_USERNAME', spec.redis.usernameSecretRef),
    ...secretEnv('REDIS_PASSWORD', spec.redis.passwordSecretRef),
    ...(sasl
      ? [
          { name: 'KAFKA_SASL_MECHANISM', value: sasl.mechanism },
          ...secretEnv('KAFKA_USERNAME', sasl.usernameSecretRef),
          ...secretEnv('KAFKA_PASSWORD', sasl.passwordSecretRef),
        ]
      : []),
  ];
}

/**
 * CA bundles (`spec.<redis|kafka>.tls.caSecretRef`): each Secret key is a read-only file volume (owner and group
 * read; the pod's fsGroup), mounted under /etc/flashsale/tls/<target>/, and only its path goes into the environment.
 */
function tlsCaPieces(spec: FlashSaleSpec) {
  const mounts = tlsCaMounts(spec);
  return {
    env: mounts.map((m) => ({ name: m.variable, value: m.path })),
    volumes: mounts.map((m) => ({
      name: m.volume,
      secret: { secretName: m.secret.name, items: [{ key: m.secret.key, path: m.file }], defaultMode: 0o440 },
    })),
    volumeMounts: mounts.map((m) => ({ name: m.volume, mountPath: m.dir, readOnly: true })),
  };
}

/** Later entries win: built-ins, then the user's overrides. */
function mergeEnv(base: EnvVar[], overrides: { name: string; value: string }[]): EnvVar[] {
  const names = new Set(overrides.map((e) => e.name));
  return [...base.filter((e) => !names.has(e.name)), ...overrides.map((e) => ({ name: e.name, value: e.value }))];
}

const podSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  fsGroup: 10001,
  seccompProfile: { type: 'RuntimeDefault' },
};

const containerSecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/**
 * Pod resources when the spec names none (docs/operator.md, "Defaults and where they come from"): memory above the
 * measured peak RSS of one gateway or processor process (308-350 MB, docs/benchmarks.md), CPU half a core (each
 * process was about half busy at its measured rate, so the gateway HPA's 70 % CPU target is near u x g_full).
 */
export const DEFAULT_WORKLOAD_RESOURCES = {
  requests: { cpu: '500m', memory: '384Mi' },
  limits: { memory: '512Mi' },
};
const defaultResources = DEFAULT_WORKLOAD_RESOURCES;

interface DeploymentInput {
  sale: SaleRef;
  spec: FlashSaleSpec;
  defaults: WorkloadDefaults;
  /** undefined: leave replicas to the autoscaler */
  replicas: number | undefined;
  configHash: string;
  /** the gateway serves order status only (GATEWAY_MODE=read-only): the status-only stage after a sale */
  readOnly?: boolean;
}

function deployment(
  input: DeploymentInput,
  component: 'gateway' | 'processor',
  name: string,
  container: Record<string, unknown>,
  strategy: unknown,
) {
  const { sale, replicas, configHash } = input;
  const selector = selectorLabels(sale.name, component);
  const meta = childMeta(sale, name, component);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta,
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selector },
      strategy,
      revisionHistoryLimit: 5,
      progressDeadlineSeconds: input.spec.upgradeStrategy.progressDeadlineSeconds,
      template: {
        metadata: {
          labels: { ...meta.labels, ...selector },
          annotations: { [CONFIG_HASH_ANNOTATION]: configHash },
        },
        spec: {
          serviceAccountName: childNames(sale.name).workload,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 45,
          securityContext: podSecurityContext,
          containers: [container],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, ...tlsCaPieces(input.spec).volumes],
        },
      },
    },
  };
}

export function buildGatewayDeployment(input: DeploymentInput) {
  const { sale, spec, defaults } = input;
  const g = spec.gateway;
  const names = childNames(sale.name);
  const env = mergeEnv(
    [
      { name: 'PORT', value: String(GATEWAY_PORT) },
      ...envList(gatewayEnv(spec)),
      ...(input.readOnly ? envList(readOnlyGatewayEnv()) : []),
      ...credentialEnv(spec),
      ...gatewaySecretEnv(spec).flatMap((e) => secretEnv(e.name, e.secret)),
      ...tlsCaPieces(spec).env,
    ],
    g.env,
  );
  const container = {
    name: 'gateway',
    image: g.image ?? defaults.gatewayImage,
    imagePullPolicy: g.imagePullPolicy,
    command: defaults.gatewayCommand,
    ports: [{ name: 'http', containerPort: GATEWAY_PORT, protocol: 'TCP' }],
    envFrom: [{ configMapRef: { name: names.config } }],
    env,
    resources: g.resources ?? defaultResources,
    securityContext: containerSecurityContext,
    // up to 120 s to answer at all before liveness counts: a pod with a small CPU request on a busy node loads its
    // modules slowly (a 30m CPU limit took the processor over 60 s), and a kill then only starts it over
    startupProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 2, failureThreshold: 60 },
    livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
    // keep serving while the endpoint removal propagates to kube-proxy / load balancers, then SIGTERM drains
    lifecycle: { preStop: { sleep: { seconds: 5 } } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...tlsCaPieces(spec).volumeMounts],
  };
  return deployment(input, 'gateway', names.gateway, container, {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' },
  });
}

export function buildProcessorDeployment(input: DeploymentInput) {
  const { sale, spec, defaults } = input;
  const p = spec.processor;
  const names = childNames(sale.name);
  const env = mergeEnv(
    [
      { name: 'METRICS_PORT', value: String(PROCESSOR_METRICS_PORT) },
      ...envList(processorEnv(spec)),
      { name: 'SHUTDOWN_TIMEOUT', value: '30s' },
      ...credentialEnv(spec),
      ...tlsCaPieces(spec).env,
    ],
    p.env,
  );
  const container = {
    name: 'processor',
    image: p.image ?? defaults.processorImage,
    imagePullPolicy: p.imagePullPolicy,
    command: defaults.processorCommand,
    ports: [{ name: 'metrics', containerPort: PROCESSOR_METRICS_PORT, protocol: 'TCP' }],
    envFrom: [{ configMapRef: { name: names.config } }],
    env,
    resources: p.resources ?? defaultResources,
    securityContext: containerSecurityContext,
    // as the gateway's (120 s): liveness alone (3 x 10 s) killed processors on a busy node before they listened, and
    // again on every restart (CrashLoopBackOff)
    startupProbe: { httpGet: { path: '/livez', port: 'metrics' }, periodSeconds: 2, failureThreshold: 60 },
    // liveness checks only the process: a Redis or Kafka outage makes processors unready, never restarts them all
    livenessProbe: { httpGet: { path: '/livez', port: 'metrics' }, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: {
      httpGet: { path: '/ready', port: 'metrics' },
      periodSeconds: 5,
      failureThreshold: 2,
      timeoutSeconds: 2,
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...tlsCaPieces(spec).volumeMounts],
  };
  // Rolling, never blue-green: two versions in one consumer group would split partitions; drain before stop.
  return deployment(input, 'processor', names.processor, container, {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
  });
}

/** Hold TTL in ms (for the status and docs). */
export const holdTtlMs = (spec: FlashSaleSpec) => parseDurationMs(spec.processor.holdTtl);
