/**
 * startOperator: wires the Kubernetes client, informers, work queue, leader election, Redis/Kafka pools, metrics and
 * health endpoints. Informers run on every replica (warm caches); only the leader's workers reconcile.
 */

import type { Server } from 'node:http';
import { createLogger, type Logger } from '@flashsale/common';
import { KubeConfig } from '@kubernetes/client-node';
import type { OperatorConfig } from './config.ts';
import { Controller } from './controller/controller.ts';
import { LeaderElector } from './controller/leaderElection.ts';
import { KafkaAdmins } from './external/kafkaSide.ts';
import { RedisPool } from './external/redisSide.ts';
import { boundPort, startHttp } from './http.ts';
import { Kube } from './kube/client.ts';
import { KubeEventRecorder } from './kube/events.ts';
import { OperatorMetrics } from './metrics.ts';
import type { Deps } from './reconcile/context.ts';
import { reconcileFlashSale } from './reconcile/reconcileFlashSale.ts';

const INFORMER_STUCK_MS = 5 * 60_000;

export interface OperatorHandle {
  readonly metrics: OperatorMetrics;
  readonly controller: Controller;
  readonly identity: string;
  /** port of /metrics /healthz /readyz (undefined when disabled) */
  readonly port: number | undefined;
  isLeader(): boolean;
  /**
   * resolves the first time leadership is lost; `main.ts` then exits as controller-runtime does (in-process users may
   * keep the handle: it stands by and campaigns again)
   */
  readonly lostLeadership: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  kubeConfig?: KubeConfig;
}

export async function startOperator(config: OperatorConfig, opts: StartOptions = {}): Promise<OperatorHandle> {
  const log = opts.logger ?? createLogger('operator', config.logLevel);
  const kc = opts.kubeConfig ?? new KubeConfig();
  if (!opts.kubeConfig) {
    if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
    else kc.loadFromDefault();
  }
  const kube = new Kube(kc);
  const metrics = new OperatorMetrics();
  const identity = config.leaderElection.identity;
  const deps: Deps = {
    kube,
    redis: new RedisPool(config.dependencyTimeoutMs),
    kafka: new KafkaAdmins(),
    recorder: new KubeEventRecorder(kube.core, log, 'flashsale-operator', identity),
    log,
    config,
    metrics,
    now: () => Date.now(),
  };
  const controller = new Controller(kube, config, log, metrics, (key) => reconcileFlashSale(deps, key));
  await controller.startInformers();

  let leading = false;
  let resolveLost: () => void = () => undefined;
  const lostLeadership = new Promise<void>((r) => {
    resolveLost = r;
  });
  const leaseName = config.leaderElection.name;
  const onStart = () => {
    leading = true;
    metrics.leader.set({ name: leaseName }, 1);
    controller.startWorkers();
  };
  const elector = config.leaderElection.enabled
    ? new LeaderElector(
        kube.coordination,
        {
          namespace: config.leaderElection.namespace,
          name: leaseName,
          identity,
          leaseDurationMs: config.leaderElection.leaseDurationMs,
          renewDeadlineMs: config.leaderElection.renewDeadlineMs,
          retryPeriodMs: config.leaderElection.retryPeriodMs,
        },
        {
          onStartedLeading: onStart,
          onStoppedLeading: () => {
            leading = false;
            metrics.leader.set({ name: leaseName }, 0);
            void controller.stopWorkers().then(resolveLost);
          },
        },
        log,
      )
    : undefined;
  metrics.leader.set({ name: leaseName }, 0);
  if (elector) elector.start();
  else onStart();

  let server: Server | undefined;
  if (config.metrics.port >= 0) {
    server = await startHttp(config.metrics.host, config.metrics.port, metrics.registry, {
      // unhealthy when a watch has failed for longer than the limit without recovering (a restart may help)
      healthz: () => {
        const stuck = [controller.sales, controller.deployments].filter(
          (i) => i.failingSince !== undefined && Date.now() - i.failingSince > INFORMER_STUCK_MS,
        );
        return stuck.length === 0
          ? { ok: true, detail: 'ok' }
          : {
              ok: false,
              detail: `informer(s) failing for over ${INFORMER_STUCK_MS / 1000}s: ${stuck.map((i) => i.name).join(', ')}`,
            };
      },
      readyz: () =>
        controller.synced ? { ok: true, detail: 'ok' } : { ok: false, detail: 'informer caches not synced yet' },
    });
  }
  log.info({ event: 'operator_started', identity, port: server ? boundPort(server) : undefined }, 'operator started');

  let stopped = false;
  return {
    metrics,
    controller,
    identity,
    port: server ? boundPort(server) : undefined,
    isLeader: () => leading,
    lostLeadership,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (elector) await elector.stop(() => controller.stopWorkers());
      await controller.stop();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await deps.redis.close();
      await deps.kafka.close();
      log.info({ event: 'operator_stopped', identity }, 'operator stopped');
    },
  };
}
