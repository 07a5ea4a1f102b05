/**
 * FlashSale spec -> environment of the gateway and processor: the ONE mapping, used by the operator (ConfigMap and
 * Deployments) and by `flashsale up` (local child processes). Values only; secrets (Redis password, SASL) are
 * resolved by whoever runs the process (the operator references Secrets, the CLI passes what it was given).
 */
import type { FlashSaleSpec } from './flashsale-spec.ts';
import { TLS_CA_MOUNT, type TlsTarget, tlsCaPath } from './tls.ts';

export type SaleComponent = 'gateway' | 'processor';

/** Environment shared by gateway and processor (in a cluster: the sale's ConfigMap, read with envFrom). */
export function sharedEnv(sale: string, spec: FlashSaleSpec): Record<string, string> {
  return {
    SALE_NAME: sale,
    SALE_STARTS_AT: spec.startsAt,
    SALE_ENDS_AT: spec.endsAt,
    REDIS_ADDR: spec.redis.addr,
    REDIS_MODE: spec.redis.mode,
    REDIS_TLS: String(spec.redis.tls.enabled),
    REDIS_TLS_INSECURE_SKIP_VERIFY: String(spec.redis.tls.insecureSkipVerify),
    KAFKA_ADDR: spec.kafka.brokers,
    KAFKA_TLS: String(spec.kafka.tls.enabled),
    KAFKA_TLS_INSECURE_SKIP_VERIFY: String(spec.kafka.tls.insecureSkipVerify),
    TOPIC_PARTITIONS: String(spec.topics.partitions),
    // the cluster's choice when the spec leaves it empty (the processor creates no topics: ENSURE_TOPICS=false)
    ...(spec.topics.replicationFactor === undefined
      ? {}
      : { TOPIC_REPLICATION: String(spec.topics.replicationFactor) }),
    /** the operator (or the CLI) owns the topics; the processor must not create them */
    ENSURE_TOPICS: 'false',
  };
}

/** Gateway-only variables derived from the spec (rate limit, circuit breaker, trusted proxies, buyer identity). */
export function gatewayEnv(spec: FlashSaleSpec): Record<string, string> {
  const g = spec.gateway;
  return {
    RATE_LIMIT_ENABLED: String(g.rateLimit.enabled),
    RATE_LIMIT_MAX_REQUESTS: String(g.rateLimit.maxRequests),
    RATE_LIMIT_WINDOW: g.rateLimit.window,
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: String(g.circuitBreaker.failureThreshold),
    CIRCUIT_BREAKER_SUCCESS_THRESHOLD: String(g.circuitBreaker.successThreshold),
    CIRCUIT_BREAKER_BASE_TIMEOUT: g.circuitBreaker.baseTimeout,
    CIRCUIT_BREAKER_MAX_TIMEOUT: g.circuitBreaker.maxTimeout,
    TRUSTED_PROXIES: g.trustedProxies.join(','),
    ...identityEnv(spec),
  };
}

/** spec.gateway.identity -> IDENTITY_SOURCE and its settings (the JWT key from a Secret: gatewaySecretEnv). */
function identityEnv(spec: FlashSaleSpec): Record<string, string> {
  const id = spec.gateway.identity;
  const env: Record<string, string> = { IDENTITY_SOURCE: id.source };
  if (id.source === 'header') env.IDENTITY_HEADER = id.header;
  const jwt = id.jwt;
  if (id.source === 'jwt' && jwt) {
    env.JWT_ISSUER = jwt.issuer;
    env.JWT_AUDIENCE = jwt.audience;
    if (jwt.jwksUrl) env.JWT_JWKS_URL = jwt.jwksUrl;
    env.JWT_USER_CLAIM = jwt.userClaim;
    if (jwt.algorithms?.length) env.JWT_ALGORITHMS = jwt.algorithms.join(',');
    env.JWT_CLOCK_TOLERANCE = jwt.clockTolerance;
  }
  return env;
}

/** Gateway variables whose values come from Secrets: the operator references them (secretKeyRef), never copies. */
export function gatewaySecretEnv(spec: FlashSaleSpec): { name: string; secret: { name: string; key: string } }[] {
  const id = spec.gateway.identity;
  const ref = id.source === 'jwt' ? id.jwt?.publicKeySecretRef : undefined;
  return ref ? [{ name: 'JWT_PUBLIC_KEY', secret: { name: ref.name, key: ref.key } }] : [];
}

/**
 * What a gateway serves (`GATEWAY_MODE`): `orders`, the sale's whole API; `read-only`, after the sale (the operator's
 * status-only stage until endsAt + statusRetention): order status and its event stream from Redis, every order
 * refused with SALE_ENDED, Kafka neither used nor checked.
 */
export const GATEWAY_MODES = ['orders', 'read-only'] as const;
export type GatewayMode = (typeof GATEWAY_MODES)[number];
/** The variables that turn a sale's gateway into the read-only one (the operator adds them in the status-only stage). */
export const readOnlyGatewayEnv = (): Record<string, string> => ({ GATEWAY_MODE: 'read-only' });

/** Processor-only variables derived from the spec (hold TTL, simulated payment). */
export function processorEnv(spec: FlashSaleSpec): Record<string, string> {
  const p = spec.processor;
  return {
    HOLD_TTL: p.holdTtl,
    PAYMENT_FAILURE_RATE: String(p.payment.failureRate),
    PAYMENT_LATENCY_MIN: p.payment.minLatency,
    PAYMENT_LATENCY_MAX: p.payment.maxLatency,
  };
}

/**
 * The complete environment of one component: shared, then component variables, then `overrides` (e.g. local
 * addresses and ports), then the user's `spec.<component>.env` last (it wins, as in the Deployment).
 */
export function saleEnv(
  sale: string,
  spec: FlashSaleSpec,
  component: SaleComponent,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const own = component === 'gateway' ? gatewayEnv(spec) : processorEnv(spec);
  const user = Object.fromEntries(spec[component].env.map((e) => [e.name, e.value]));
  return { ...sharedEnv(sale, spec), ...own, ...overrides, ...user };
}

/**
 * The CA bundles a pod mounts: for each of Redis and Kafka with TLS on and a `caSecretRef`, the Secret key, the
 * volume, where it is mounted (read-only) and the variable that points the process at the file. Only paths travel
 * in the environment, never the CA itself. (`flashsale up` passes local files through --redis-ca / --kafka-ca.)
 */
export function tlsCaMounts(spec: FlashSaleSpec): {
  target: TlsTarget;
  variable: string;
  path: string;
  volume: string;
  dir: string;
  file: string;
  secret: { name: string; key: string };
}[] {
  const out = [];
  for (const [target, tls] of [
    ['REDIS', spec.redis.tls],
    ['KAFKA', spec.kafka.tls],
  ] as const) {
    if (!tls.enabled || !tls.caSecretRef) continue;
    const m = TLS_CA_MOUNT[target];
    out.push({
      target,
      variable: `${target}_TLS_CA_FILE`,
      path: tlsCaPath(target),
      volume: m.volume,
      dir: m.dir,
      file: m.file,
      secret: { name: tls.caSecretRef.name, key: tls.caSecretRef.key },
    });
  }
  return out;
}

/** Record -> Kubernetes container env list. */
export const envList = (env: Record<string, string>): { name: string; value: string }[] =>
  Object.entries(env).map(([name, value]) => ({ name, value }));
