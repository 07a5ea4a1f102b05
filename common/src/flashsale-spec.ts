/**
 * The FlashSale custom resource (flashsale.dev/v1alpha1): THE single source of its spec.
 *
 * The CRD's OpenAPI schema in `crds/` is generated from `flashSaleSpecSchema` by `tools/gen-crd.ts` (a test checks the
 * committed file equals the generated one). Kubernetes-only rules (CEL `x-kubernetes-validations`, list types) ride
 * along as zod `.meta()` and are copied into the JSON Schema; the same constraints are also zod refinements, so the
 * CLI running a manifest locally refuses what the API server refuses.
 */
import { z } from 'zod';
import { itemIdSchema, saleNameSchema } from './keys.ts';
import { ORDER_RECORD_TTL_SECONDS } from './order.ts';
import { DEFAULT_TRUSTED_PROXIES, TRUSTED_PROXY_NAMES, trustedProxyProblem } from './trusted-proxies.ts';

export const FLASHSALE_GROUP = 'flashsale.dev';
export const FLASHSALE_VERSION = 'v1alpha1';
export const FLASHSALE_API_VERSION = `${FLASHSALE_GROUP}/${FLASHSALE_VERSION}`;
export const FLASHSALE_KIND = 'FlashSale';
export const FLASHSALE_PLURAL = 'flashsales';
export const FLASHSALE_SINGULAR = 'flashsale';
export const FLASHSALE_SHORT_NAMES = ['fs'];

/** Annotation that stops reconciling a sale while it is "true". */
export const PAUSED_ANNOTATION = `${FLASHSALE_GROUP}/paused`;
/** Finalizer guarding the state outside Kubernetes (Redis keys, Kafka topics). */
export const CLEANUP_FINALIZER = `${FLASHSALE_GROUP}/cleanup`;

const DURATION_RE = /^\d+(ms|s|m|h)$/;
const duration = (fallback: string, what: string) =>
  z
    .string()
    .regex(DURATION_RE, `${what} must be a duration such as 300ms, 30s, 5m or 2h`)
    .default(fallback)
    .meta({ description: `${what} (a duration: 300ms, 30s, 5m, 2h)` });

const int = (min: number, max: number) => z.int().min(min).max(max);

const quantity = z.union([z.string(), z.number()]).meta({ 'x-kubernetes-int-or-string': true });

export const secretKeyRefSchema = z
  .object({
    name: z.string().min(1).max(253).meta({ description: 'Secret name in the FlashSale namespace' }),
    key: z.string().min(1).max(253).meta({ description: 'key inside the Secret' }),
  })
  .meta({ description: 'a key of a Secret in the same namespace' });
export type SecretKeyRef = z.infer<typeof secretKeyRefSchema>;

export const tlsSchema = z
  .object({
    enabled: z.boolean().default(false),
    caSecretRef: secretKeyRefSchema.optional().meta({ description: 'CA bundle (PEM) to trust' }),
    insecureSkipVerify: z.boolean().default(false),
  })
  .default({ enabled: false, insecureSkipVerify: false });

export const envVarSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
  value: z.string().max(4096).default(''),
});

export const resourcesSchema = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .meta({ description: 'container resources (requests/limits), as in a Pod' });

export const itemSchema = z.object({
  id: itemIdSchema.meta({ description: 'item id (letters, digits, "_" and "-")' }),
  quantity: int(0, 1_000_000_000).meta({
    description: 'units for sale; a later change is applied as a restock or reduction delta, sold units are kept',
  }),
  perUserLimit: int(0, 1_000_000).default(0).meta({ description: 'units one user may hold or buy (0 = unlimited)' }),
  stockBuckets: int(1, 64)
    .default(1)
    .meta({
      description:
        'stock buckets K of a hot item: its stock is split over K Redis keys with different hash tags, so its takes ' +
        'spread over K slots (shards of a Redis Cluster); 1 = one key. Fixed once set: changing K of a seeded item is ' +
        'not supported (docs/capacity.md, stock buckets per hot item)',
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'stockBuckets cannot be changed once set: changing K of a live item is not supported',
        },
      ],
    }),
});
export type FlashSaleItem = z.infer<typeof itemSchema>;

const addrListSchema = (what: string) =>
  z
    .string()
    .min(1)
    .max(2048)
    .regex(/^[^\s,]+:\d{1,5}(,[^\s,]+:\d{1,5})*$/, `${what} must be host:port[,host:port...]`);

export const redisSpecSchema = z
  .object({
    mode: z.enum(['single', 'cluster']).default('single'),
    addr: addrListSchema('redis.addr').default('redis-service:6379').meta({
      description: 'host:port, or seed nodes host:port,host:port for cluster mode',
    }),
    usernameSecretRef: secretKeyRefSchema.optional(),
    passwordSecretRef: secretKeyRefSchema.optional(),
    tls: tlsSchema,
  })
  .default({ mode: 'single', addr: 'redis-service:6379', tls: { enabled: false, insecureSkipVerify: false } });

export const kafkaSpecSchema = z
  .object({
    brokers: addrListSchema('kafka.brokers').default('kafka-service:9092').meta({
      description: 'bootstrap brokers host:port[,host:port...]',
    }),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).default('scram-sha-512'),
        usernameSecretRef: secretKeyRefSchema,
        passwordSecretRef: secretKeyRefSchema,
      })
      .optional(),
    tls: tlsSchema,
  })
  .default({ brokers: 'kafka-service:9092', tls: { enabled: false, insecureSkipVerify: false } });

export const topicsSpecSchema = z
  .object({
    partitions: int(1, 1000)
      .default(12)
      .meta({
        description:
          'partitions of the orders topic; may only grow (Kafka cannot shrink a topic). Default 12: 3x the default ' +
          'processor maximum (docs/operator.md, defaults and where they come from)',
        'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'partitions may only grow' }],
      }),
    replicationFactor: int(1, 7)
      .optional()
      .meta({
        description:
          'replicas of each partition (set when the topics are created); empty: what the cluster allows, ' +
          'min(3, brokers), with min.insync.replicas 2 from 3 replicas on',
      }),
    retention: duration('168h', 'topics.retention'),
    dlqPartitions: int(1, 1000).default(1),
  })
  .default({ partitions: 12, retention: '168h', dlqPartitions: 1 });

/** A trusted proxy: an address, a CIDR range or a named range (the strict check: common/src/trusted-proxies.ts). */
const trustedProxySchema = z
  .string()
  .max(64)
  .regex(
    new RegExp(`^(${TRUSTED_PROXY_NAMES.join('|')}|[0-9A-Fa-f:.]+(/[0-9]{1,3})?)$`),
    `must be an IP address, a CIDR range or one of ${TRUSTED_PROXY_NAMES.join(', ')}`,
  );

/** Asymmetric JWS algorithms only: a public key never verifies an HMAC token (no algorithm confusion). */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export const IDENTITY_SOURCES = ['body', 'header', 'jwt'] as const;
export const DEFAULT_IDENTITY_HEADER = 'X-Authenticated-User';

export const jwtSpecSchema = z
  .object({
    issuer: z.string().min(1).max(512).meta({ description: 'the tokens\' required "iss"' }),
    audience: z.string().min(1).max(512).meta({ description: 'the tokens\' required "aud" (one of its values)' }),
    jwksUrl: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/\S+$/, 'jwksUrl must be an http(s) URL')
      .optional()
      .meta({ description: "the issuer's JSON Web Key Set (fetched at start, refreshed in the background)" }),
    publicKeySecretRef: secretKeyRefSchema
      .optional()
      .meta({ description: 'a Secret key holding the public key (PEM) or a JSON Web Key Set; instead of jwksUrl' }),
    userClaim: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'userClaim must be a claim name')
      .default('sub')
      .meta({ description: 'the claim that names the buyer' }),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).max(10).optional().meta({
      description: "accepted algorithms; empty: every asymmetric algorithm the key fits (never 'none' or HMAC)",
    }),
    clockTolerance: duration('30s', 'gateway.identity.jwt.clockTolerance'),
  })
  .meta({
    description: 'verified JWT bearer tokens (Authorization: Bearer)',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.jwksUrl) != has(self.publicKeySecretRef)',
        message: 'gateway.identity.jwt needs exactly one of jwksUrl and publicKeySecretRef',
      },
    ],
  });

export const identitySpecSchema = z
  .object({
    source: z
      .enum(IDENTITY_SOURCES)
      .default('body')
      .meta({
        description:
          "where the buyer's id comes from: body (the request's user_id, trusted as sent), header (set by an " +
          'authenticating proxy, honoured only from trustedProxies) or jwt (a verified bearer token)',
      }),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'header must be an HTTP header name')
      .default(DEFAULT_IDENTITY_HEADER)
      .meta({ description: 'the header the authenticating proxy sets (source: header)' }),
    jwt: jwtSpecSchema.optional(),
  })
  .meta({
    description: "the buyer's identity: the per-user limit's subject and the owner who may read an order",
    'x-kubernetes-validations': [
      { rule: "self.source != 'jwt' || has(self.jwt)", message: 'gateway.identity.jwt is required when source is jwt' },
    ],
  })
  .default({ source: 'body', header: DEFAULT_IDENTITY_HEADER });

const imageSchema = z.string().min(1).max(512);
const pullPolicySchema = z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent');

export const gatewaySpecSchema = z
  .object({
    image: imageSchema.optional().meta({ description: "gateway image; the operator's default when empty" }),
    imagePullPolicy: pullPolicySchema,
    replicas: int(0, 1000)
      .default(2)
      .meta({ description: 'replicas when autoscaling is off (else the minimum during the sale)' }),
    resources: resourcesSchema.optional(),
    env: z.array(envVarSchema).max(64).default([]).meta({ description: 'extra environment (overrides)' }),
    rateLimit: z
      .object({
        enabled: z.boolean().default(true),
        maxRequests: int(1, 1_000_000).default(60),
        window: duration('1m', 'gateway.rateLimit.window'),
      })
      .default({ enabled: true, maxRequests: 60, window: '1m' }),
    circuitBreaker: z
      .object({
        failureThreshold: int(1, 1000).default(5),
        successThreshold: int(1, 1000).default(2),
        baseTimeout: duration('30s', 'gateway.circuitBreaker.baseTimeout'),
        maxTimeout: duration('300s', 'gateway.circuitBreaker.maxTimeout'),
      })
      .default({ failureThreshold: 5, successThreshold: 2, baseTimeout: '30s', maxTimeout: '300s' }),
    service: z
      .object({
        type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).default('ClusterIP'),
        port: int(1, 65535).default(80),
      })
      .default({ type: 'ClusterIP', port: 80 }),
    trustedProxies: z
      .array(trustedProxySchema)
      .max(64)
      .default(DEFAULT_TRUSTED_PROXIES)
      .meta({
        description:
          'addresses or CIDR ranges whose X-Forwarded-For names the client (per-IP limits, the identity header); ' +
          'default loopback and the private ranges (an in-cluster ingress controller); [] trusts nobody',
      }),
    identity: identitySpecSchema,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "!has(self.identity) || self.identity.source != 'header' || !has(self.trustedProxies) || size(self.trustedProxies) > 0",
        message: 'gateway.identity.source header needs gateway.trustedProxies: the header is honoured only from them',
      },
    ],
  })
  .default({
    imagePullPolicy: 'IfNotPresent',
    replicas: 2,
    env: [],
    rateLimit: { enabled: true, maxRequests: 60, window: '1m' },
    circuitBreaker: { failureThreshold: 5, successThreshold: 2, baseTimeout: '30s', maxTimeout: '300s' },
    service: { type: 'ClusterIP', port: 80 },
    trustedProxies: DEFAULT_TRUSTED_PROXIES,
    identity: { source: 'body', header: DEFAULT_IDENTITY_HEADER },
  });

export const processorSpecSchema = z
  .object({
    image: imageSchema.optional().meta({ description: "processor image; the operator's default when empty" }),
    imagePullPolicy: pullPolicySchema,
    replicas: int(0, 1000)
      .default(1)
      .meta({ description: 'replicas when autoscaling is off; never more than topics.partitions' }),
    resources: resourcesSchema.optional(),
    env: z.array(envVarSchema).max(64).default([]),
    holdTtl: duration('5m', 'processor.holdTtl'),
    payment: z
      .object({
        failureRate: z.number().min(0).max(1).default(0.1).meta({ description: 'simulated payment failure share' }),
        minLatency: duration('50ms', 'processor.payment.minLatency'),
        maxLatency: duration('200ms', 'processor.payment.maxLatency'),
      })
      .default({ failureRate: 0.1, minLatency: '50ms', maxLatency: '200ms' }),
  })
  .default({
    imagePullPolicy: 'IfNotPresent',
    replicas: 1,
    env: [],
    holdTtl: '5m',
    payment: { failureRate: 0.1, minLatency: '50ms', maxLatency: '200ms' },
  });

export const autoscalingSpecSchema = z
  .object({
    enabled: z.boolean().default(true),
    provider: z.enum(['auto', 'HPA', 'KEDA']).default('auto').meta({
      description:
        'auto: KEDA ScaledObjects when KEDA runs (its ScaledObject API and the external metrics API served), else HPAs; HPA: autoscaling/v2 with prometheus-adapter metrics; KEDA: ScaledObjects whenever their API is served',
    }),
    prometheusAddress: z
      .string()
      .max(512)
      .default('http://prometheus-operated.monitoring.svc:9090')
      .meta({ description: 'Prometheus URL for KEDA triggers' }),
    gateway: z
      .object({
        minReplicas: int(1, 1000).default(2),
        maxReplicas: int(1, 1000).default(10),
        targetCPUUtilization: int(1, 100).default(70),
        targetRequestsPerSecond: int(1, 1_000_000)
          .default(170)
          .meta({ description: 'requests/s per gateway pod the HPA keeps (u x g_full of docs/capacity.md)' }),
      })
      .default({ minReplicas: 2, maxReplicas: 10, targetCPUUtilization: 70, targetRequestsPerSecond: 170 }),
    processor: z
      .object({
        minReplicas: int(1, 1000).default(1),
        maxReplicas: int(1, 1000).default(4).meta({ description: 'capped at topics.partitions' }),
        targetLagPerReplica: int(1, 10_000_000).default(500),
      })
      .default({ minReplicas: 1, maxReplicas: 4, targetLagPerReplica: 500 }),
    preScale: z
      .object({
        lead: duration('10m', 'autoscaling.preScale.lead'),
        gatewayReplicas: int(1, 1000).optional().meta({ description: 'warm replicas before startsAt (default max/2)' }),
        processorReplicas: int(1, 1000).optional(),
      })
      .default({ lead: '10m' }),
    scaleDownGrace: duration('15m', 'autoscaling.scaleDownGrace'),
    scaleDown: z
      .object({
        stabilizationWindow: duration('5m', 'autoscaling.scaleDown.stabilizationWindow').meta({
          description: 'how long the autoscalers wait, after the load fell, before they remove pods',
        }),
        podsPerMinute: int(1, 1000).default(1).meta({ description: 'pods removed per minute at most' }),
      })
      .default({ stabilizationWindow: '5m', podsPerMinute: 1 }),
  })
  .default({
    enabled: true,
    provider: 'auto',
    prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
    gateway: { minReplicas: 2, maxReplicas: 10, targetCPUUtilization: 70, targetRequestsPerSecond: 170 },
    processor: { minReplicas: 1, maxReplicas: 4, targetLagPerReplica: 500 },
    preScale: { lead: '10m' },
    scaleDownGrace: '15m',
    scaleDown: { stabilizationWindow: '5m', podsPerMinute: 1 },
  });

export const alertThresholdsSchema = z
  .object({
    dlqSize: int(0, 100_000_000).default(100),
    dlqAgeSeconds: int(0, 100_000_000).default(3600),
    failureRate: z.number().min(0).max(1).default(0.1),
    processingP99Seconds: z.number().min(0).max(3600).default(5),
    inventoryLow: int(0, 1_000_000_000).default(10),
    consumerLag: int(0, 100_000_000).default(1000),
    gateway5xxRate: z.number().min(0).max(1).default(0.01),
  })
  .default({
    dlqSize: 100,
    dlqAgeSeconds: 3600,
    failureRate: 0.1,
    processingP99Seconds: 5,
    inventoryLow: 10,
    consumerLag: 1000,
    gateway5xxRate: 0.01,
  });
export type AlertThresholds = z.infer<typeof alertThresholdsSchema>;

export const monitoringSpecSchema = z
  .object({
    serviceMonitor: z.boolean().default(true),
    prometheusRule: z.boolean().default(true),
    labels: z
      .record(z.string(), z.string())
      .default({})
      .meta({ description: 'extra labels, e.g. release: <kube-prometheus-stack release>' }),
    interval: duration('15s', 'monitoring.interval'),
    alerts: alertThresholdsSchema,
  })
  .default({
    serviceMonitor: true,
    prometheusRule: true,
    labels: {},
    interval: '15s',
    alerts: alertThresholdsSchema.parse(undefined),
  });

/** Optional Prometheus analysis of a blue-green preview before promotion. */
export const rolloutAnalysisSchema = z
  .object({
    prometheusUrl: z
      .string()
      .max(512)
      .regex(/^https?:\/\/\S+$/, 'prometheusUrl must be an http(s) URL')
      .meta({ description: "Prometheus to query for the preview Service's error rate and p99 latency" }),
    window: duration('1m', 'analysis window: how long the preview serves before it is judged (and the rate range)'),
    maxErrorRate: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .meta({ description: 'highest share of 5xx responses of the preview (0.01 = 1 %)' }),
    maxP99LatencySeconds: z
      .number()
      .min(0)
      .max(3600)
      .default(1)
      .meta({ description: 'highest p99 request latency of the preview, seconds' }),
    onInconclusive: z.enum(['Pause', 'Promote', 'Abort']).default('Pause').meta({
      description: 'what to do when Prometheus has no data for the preview (no traffic, not scraped) or is unreachable',
    }),
    previewTraffic: z
      .enum(['Shared', 'None'])
      .default('Shared')
      .meta({
        description:
          'Shared: during the analysis window the sale Service selects the pods of both colours, so the preview ' +
          'serves live orders in proportion to its pods and the analysis judges real requests (a bad preview fails ' +
          'that share for at most the window); None: the preview gets only what is sent to <sale>-gateway-preview',
      }),
  })
  .meta({ description: 'analysis before promotion (Prometheus); without it, readiness of every new pod decides' });
export type RolloutAnalysis = z.infer<typeof rolloutAnalysisSchema>;

export const upgradeStrategySchema = z
  .object({
    type: z.enum(['Rolling', 'BlueGreen']).default('Rolling').meta({
      description:
        'gateway upgrades: Rolling (Deployment rolling update) or BlueGreen (two colours, preview then switch)',
    }),
    scaleDownDelaySeconds: int(0, 86_400).default(30).meta({
      description: 'after a promotion, seconds the old colour keeps its pods (drain) before it goes to 0 replicas',
    }),
    progressDeadlineSeconds: int(10, 86_400).default(600).meta({
      description: 'a preview not fully available (and analysed) within this many seconds is aborted',
    }),
    autoPromote: z
      .boolean()
      .default(true)
      .meta({ description: 'false: the rollout pauses before promotion until promoted by hand' }),
    analysis: rolloutAnalysisSchema.optional(),
  })
  .default({ type: 'Rolling', scaleDownDelaySeconds: 30, progressDeadlineSeconds: 600, autoPromote: true });

const ISO = z.iso.datetime({ offset: true });

export const flashSaleSpecObject = z.object({
  startsAt: ISO.meta({ description: 'sale start (RFC 3339)' }),
  endsAt: ISO.meta({ description: 'sale end (RFC 3339), after startsAt' }),
  items: z
    .array(itemSchema)
    .min(1)
    .max(100)
    .meta({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['id'],
      'x-kubernetes-validations': [
        { rule: 'self.all(i, self.exists_one(j, j.id == i.id))', message: 'item ids must be unique' },
      ],
    }),
  redis: redisSpecSchema,
  kafka: kafkaSpecSchema,
  topics: topicsSpecSchema,
  gateway: gatewaySpecSchema,
  processor: processorSpecSchema,
  autoscaling: autoscalingSpecSchema,
  monitoring: monitoringSpecSchema,
  upgradeStrategy: upgradeStrategySchema,
  statusRetention: duration('24h', 'statusRetention').meta({
    description:
      'how long after endsAt buyers can still read their orders (GET /v1/orders/{id} and its event stream): once ' +
      'the processors have drained, one read-only gateway serves them until endsAt + statusRetention, then it ' +
      'scales to zero. At most 168h, how long an order record lives in Redis after it was last written ' +
      '(docs/operator.md, the end of a sale)',
  }),
  deletionPolicy: z.enum(['Retain', 'Delete']).default('Retain').meta({
    description: "Delete removes the sale's Redis keys and Kafka topics with the FlashSale; Retain keeps them",
  }),
});

/** Cross-field rules, as CEL for the API server (same words as the zod refinements below). */
export const FLASHSALE_SPEC_CEL = [
  { rule: 'timestamp(self.endsAt) > timestamp(self.startsAt)', message: 'endsAt must be after startsAt' },
  {
    rule: '!has(self.autoscaling) || !has(self.autoscaling.gateway) || self.autoscaling.gateway.maxReplicas >= self.autoscaling.gateway.minReplicas',
    message: 'autoscaling.gateway.maxReplicas must be >= minReplicas',
  },
  {
    rule: '!has(self.autoscaling) || !has(self.autoscaling.processor) || self.autoscaling.processor.maxReplicas >= self.autoscaling.processor.minReplicas',
    message: 'autoscaling.processor.maxReplicas must be >= minReplicas',
  },
];

export const flashSaleSpecSchema = flashSaleSpecObject
  .superRefine((s, ctx) => {
    if (Date.parse(s.endsAt) <= Date.parse(s.startsAt)) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'endsAt must be after startsAt' });
    }
    const ids = new Set<string>();
    s.items.forEach((it, n) => {
      if (ids.has(it.id))
        ctx.addIssue({ code: 'custom', path: ['items', n, 'id'], message: 'item ids must be unique' });
      ids.add(it.id);
    });
    // Checked by the operator (Ready=False reason InvalidSpec), not by the API server: duration comparisons.
    const ms = (d: string) =>
      Number(/^\d+/.exec(d)?.[0]) * ({ ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[d.replace(/^\d+/, '')] ?? 1);
    const cb = s.gateway.circuitBreaker;
    if (ms(cb.maxTimeout) < ms(cb.baseTimeout)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'circuitBreaker', 'maxTimeout'],
        message: 'must not be below gateway.circuitBreaker.baseTimeout',
      });
    }
    s.gateway.trustedProxies.forEach((p, n) => {
      const problem = trustedProxyProblem(p);
      if (problem) ctx.addIssue({ code: 'custom', path: ['gateway', 'trustedProxies', n], message: problem });
    });
    const id = s.gateway.identity;
    if (id.source === 'header' && s.gateway.trustedProxies.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'trustedProxies'],
        message: 'gateway.identity.source header needs gateway.trustedProxies: the header is honoured only from them',
      });
    }
    if (id.source === 'jwt' && !id.jwt) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'identity', 'jwt'],
        message: 'gateway.identity.jwt is required when source is jwt',
      });
    }
    if (id.jwt && (id.jwt.jwksUrl === undefined) === (id.jwt.publicKeySecretRef === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'identity', 'jwt'],
        message: 'gateway.identity.jwt needs exactly one of jwksUrl and publicKeySecretRef',
      });
    }
    const pay = s.processor.payment;
    if (ms(pay.maxLatency) < ms(pay.minLatency)) {
      ctx.addIssue({
        code: 'custom',
        path: ['processor', 'payment', 'maxLatency'],
        message: 'must not be below processor.payment.minLatency',
      });
    }
    // an order record expires ORDER_RECORD_TTL_SECONDS after its last write (admission, reservation): the status
    // of an order placed at the end must still be there when the read-only gateway stops
    if (ms(s.statusRetention) > ORDER_RECORD_TTL_SECONDS * 1000) {
      ctx.addIssue({
        code: 'custom',
        path: ['statusRetention'],
        message: `must not exceed ${ORDER_RECORD_TTL_SECONDS / 3600}h, how long order records live in Redis`,
      });
    }
    const a = s.autoscaling;
    if (a.gateway.maxReplicas < a.gateway.minReplicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoscaling', 'gateway', 'maxReplicas'],
        message: 'autoscaling.gateway.maxReplicas must be >= minReplicas',
      });
    }
    if (a.processor.maxReplicas < a.processor.minReplicas) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoscaling', 'processor', 'maxReplicas'],
        message: 'autoscaling.processor.maxReplicas must be >= minReplicas',
      });
    }
  })
  .meta({ 'x-kubernetes-validations': FLASHSALE_SPEC_CEL });

export type FlashSaleSpec = z.output<typeof flashSaleSpecSchema>;
export type FlashSaleSpecInput = z.input<typeof flashSaleSpecSchema>;

/** The whole manifest as users write it (what the CLI reads from a file). */
export const flashSaleManifestSchema = z.object({
  apiVersion: z.literal(FLASHSALE_API_VERSION),
  kind: z.literal(FLASHSALE_KIND),
  metadata: z.looseObject({
    name: saleNameSchema,
    namespace: z.string().optional(),
    generation: z.number().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: flashSaleSpecSchema,
});
export type FlashSaleManifest = z.output<typeof flashSaleManifestSchema>;

/** Parse a spec and return either the defaulted spec or readable problems ("path: message"). */
export function parseFlashSaleSpec(
  spec: unknown,
): { ok: true; spec: FlashSaleSpec } | { ok: false; problems: string[] } {
  const r = flashSaleSpecSchema.safeParse(spec);
  if (r.success) return { ok: true, spec: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `spec.${i.path.join('.') || '(root)'}: ${i.message}`) };
}

/** Status: phases and condition types, with the reasons kept beside them. */
export const SALE_PHASES = ['Pending', 'Scheduled', 'Live', 'SoldOut', 'Ended', 'Failed'] as const;
export type SalePhase = (typeof SALE_PHASES)[number];

export const CONDITION_TYPES = [
  'Ready',
  'Progressing',
  'Degraded',
  'Paused',
  'InventorySeeded',
  'TopicsReady',
  'WorkloadsAvailable',
  'ScalingReady',
  'MonitoringReady',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const ROLLOUT_PHASES = ['Progressing', 'Paused', 'Promoted', 'Aborted'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
export const GATEWAY_COLOURS = ['blue', 'green'] as const;
export type GatewayColour = (typeof GATEWAY_COLOURS)[number];

/** Blue-green rollout of the gateway (status.rollout), written by the operator. */
export const rolloutStatusSchema = z.object({
  activeColour: z.enum(GATEWAY_COLOURS).optional().meta({ description: 'colour the gateway Service selects' }),
  previewColour: z
    .enum(GATEWAY_COLOURS)
    .optional()
    .meta({ description: 'colour the preview Service selects (the new one, or the old one kept for rollback)' }),
  phase: z.enum(ROLLOUT_PHASES).optional(),
  step: z.string().optional().meta({ description: 'Preview, Analysis, Paused, Promoted, ScaleDown, Done, Aborted' }),
  message: z.string().optional(),
  activeHash: z.string().optional().meta({ description: 'pod template hash of the active colour' }),
  previewHash: z.string().optional().meta({ description: 'pod template hash being rolled out' }),
  abortedHash: z.string().optional().meta({ description: 'template hash of the last aborted rollout (not retried)' }),
  startedAt: z.string().optional(),
  previewReadyAt: z.string().optional(),
  promotedAt: z.string().optional(),
  scaleDownAt: z.string().optional().meta({ description: 'when the old colour goes to 0 replicas' }),
  analysis: z.enum(['Passed', 'Inconclusive']).optional().meta({ description: 'result of the Prometheus analysis' }),
  analysisMessage: z.string().optional(),
  promoteRequested: z.boolean().optional().meta({ description: 'promote annotation seen; promotes once ready' }),
  seenPromote: z.string().optional().meta({ description: 'value of the promote annotation already handled' }),
  seenAbort: z.string().optional().meta({ description: 'value of the abort annotation already handled' }),
});
export type RolloutStatus = z.infer<typeof rolloutStatusSchema>;

export const flashSaleStatusSchema = z.object({
  phase: z.enum(SALE_PHASES).optional(),
  observedGeneration: z.int().optional(),
  conditions: z
    .array(
      z.object({
        type: z.string(),
        status: z.enum(['True', 'False', 'Unknown']),
        reason: z.string(),
        message: z.string().default(''),
        lastTransitionTime: z.string(),
        observedGeneration: z.int().optional(),
      }),
    )
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  items: z
    .array(
      z.object({
        id: z.string(),
        quantity: z.int(),
        remaining: z.int(),
        sold: z.int(),
        held: z.int().optional(),
      }),
    )
    .optional(),
  totalQuantity: z.int().optional(),
  totalSold: z.int().optional(),
  soldSummary: z.string().optional().meta({ description: 'sold/total, for the printer column' }),
  gatewayEndpoint: z.string().optional(),
  topics: z.object({ orders: z.string(), dlq: z.string(), partitions: z.int() }).optional(),
  gatewayReplicas: z.int().optional(),
  processorReplicas: z.int().optional(),
  message: z.string().optional(),
  rollout: rolloutStatusSchema.optional(),
});
export type FlashSaleStatus = z.infer<typeof flashSaleStatusSchema>;
