/**
 * Leader election on a coordination.k8s.io/v1 Lease, client-go's algorithm: acquire when the lease is free or its
 * record has not changed for leaseDuration (measured on our own clock since we observed it, so clock skew between
 * replicas does not matter), renew every retryPeriod, and give up leadership when a renewal has not succeeded within
 * renewDeadline. Updates are guarded by resourceVersion, so two candidates can never both win.
 */
import type { Logger } from '@flashsale/common';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { errorMessage, isNotFound } from '../kube/client.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** MicroTime as the API server parses it (6 fractional digits); client-node would send a Date with 3. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
const asMicro = (v: unknown) =>
  (v instanceof Date ? microTime(v) : String(v).replace(/\.(\d{3})Z$/, '.$1000Z')) as unknown as Date;

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly cfg: LeaderElectionConfig;
  private readonly cb: LeaderCallbacks;
  private readonly log: Logger;
  private observed: { holder: string; renew: string; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastRenew = 0;
  /** fires renewDeadline after the last successful renewal was sent: a hung request cannot keep us leading */
  private deadline: NodeJS.Timeout | undefined;
  leading = false;

  constructor(api: CoordinationV1Api, cfg: LeaderElectionConfig, cb: LeaderCallbacks, log: Logger) {
    this.api = api;
    this.cfg = cfg;
    this.cb = cb;
    this.log = log;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    const sentAt = Date.now();
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (e) {
      this.log.warn({ event: 'lease_error', err: errorMessage(e) }, 'lease update failed');
    }
    if (this.stopped) return; // stop() owns the lease from here
    const now = Date.now();
    if (ok && now - sentAt >= this.cfg.renewDeadlineMs) ok = false; // too late: others may already count it expired
    if (ok) {
      this.lastRenew = sentAt;
      clearTimeout(this.deadline);
      this.deadline = setTimeout(() => this.lose(), this.cfg.renewDeadlineMs - (now - sentAt));
      if (!this.leading) {
        this.leading = true;
        this.log.info({ event: 'leader_acquired', identity: this.cfg.identity }, 'became leader');
        this.cb.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew > this.cfg.renewDeadlineMs) {
      this.lose();
    }
    if (this.stopped) return;
    const jitter = this.leading ? 0 : Math.random() * this.cfg.retryPeriodMs * 0.2;
    this.timer = setTimeout(() => void this.loop(), this.cfg.retryPeriodMs + jitter);
  }

  private lose(): void {
    clearTimeout(this.deadline);
    if (!this.leading) return;
    this.leading = false;
    this.log.warn({ event: 'leader_lost', identity: this.cfg.identity }, 'lost leadership');
    this.cb.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.cfg;
    const now = microTime(new Date());
    const durationS = Math.ceil(this.cfg.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationS,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renew = spec.renewTime ? new Date(spec.renewTime).toISOString() : '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renew !== renew) {
      this.observed = { holder, renew, at: Date.now() };
    }
    const heldByOther = holder !== '' && holder !== identity;
    const leaseMs = (spec.leaseDurationSeconds ?? durationS) * 1000;
    if (heldByOther && Date.now() - this.observed.at < leaseMs) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const updated = await this.api.replaceNamespacedLease({
      namespace,
      name,
      body: {
        metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationS,
          acquireTime: holder === identity && spec.acquireTime ? asMicro(spec.acquireTime) : now,
          renewTime: now,
          leaseTransitions: transitions,
        },
      },
    });
    const u = updated.spec;
    this.observed = {
      holder: identity,
      renew: u?.renewTime ? new Date(u.renewTime).toISOString() : new Date().toISOString(),
      at: Date.now(),
    };
    return true;
  }

  /** Stop; when leading, run `beforeRelease`, then release the lease (empty holder) so a standby takes over at once. */
  async stop(beforeRelease?: () => Promise<void>): Promise<void> {
    // finish in-flight work first, still renewing: a standby may start the moment the lease is released or lapses
    if (this.leading && beforeRelease) await beforeRelease();
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    if (!this.leading) return;
    this.leading = false;
    this.cb.onStoppedLeading();
    const { namespace, name } = this.cfg;
    try {
      const lease = await this.api.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== this.cfg.identity) return;
      await this.api.replaceNamespacedLease({
        namespace,
        name,
        body: {
          metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion },
          spec: {
            ...lease.spec,
            acquireTime: lease.spec?.acquireTime ? asMicro(lease.spec.acquireTime) : undefined,
            renewTime: lease.spec?.renewTime ? asMicro(lease.spec.renewTime) : undefined,
            holderIdentity: '',
            leaseDurationSeconds: 1,
          },
        },
      });
    } catch (e) {
      this.log.warn({ event: 'lease_release_failed', err: errorMessage(e) }, 'could not release the lease');
    }
  }
}
