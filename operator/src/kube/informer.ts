/**
 * A babysat client-node informer: restarts with jittered exponential backoff after an error (client-node stops the
 * informer on most errors), ignores the AbortError that stop() itself raises, records the last event for liveness,
 * and reports whether the first list has completed (the cache is synced).
 */
import type { Logger } from '@flashsale/common';
import {
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import { errorMessage } from './client.ts';

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T, old: T | undefined) => void;
  delete?: (obj: T) => void;
}

export class ManagedInformer<T extends KubernetesObject> {
  readonly name: string;
  private readonly log: Logger;
  private readonly inf: Informer<T> & ObjectCache<T>;
  private stopped = true;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private readonly previous = new Map<string, T>();
  synced = false;
  lastEventAt = 0;
  restarts = 0;
  /** since when the watch has been failing without a successful (re)connect; undefined when healthy */
  failingSince: number | undefined;

  constructor(
    kc: KubeConfig,
    name: string,
    path: string,
    list: ListPromise<T>,
    handlers: InformerHandlers<T>,
    log: Logger,
    labelSelector?: string,
  ) {
    this.name = name;
    this.log = log;
    this.inf = makeInformer(kc, path, list, labelSelector);
    const key = (o: T) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    this.inf.on('add', (o) => {
      this.touch();
      this.previous.set(key(o), o);
      handlers.add?.(o);
    });
    this.inf.on('update', (o) => {
      this.touch();
      const old = this.previous.get(key(o));
      this.previous.set(key(o), o);
      handlers.update?.(o, old);
    });
    this.inf.on('delete', (o) => {
      this.touch();
      this.previous.delete(key(o));
      handlers.delete?.(o);
    });
    this.inf.on('connect', () => {
      this.lastEventAt = Date.now();
      this.failingSince = undefined;
      this.synced = true;
    });
    this.inf.on('error', (err) => this.onError(err));
  }

  private touch() {
    this.lastEventAt = Date.now();
    this.failingSince = undefined;
    this.backoffMs = 1000;
  }

  private onError(err: unknown) {
    if (this.stopped || (err as Error)?.name === 'AbortError') return;
    this.failingSince ??= Date.now();
    const delay = Math.round(this.backoffMs * (0.5 + Math.random()));
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.restarts++;
    this.log.warn(
      { event: 'informer_error', informer: this.name, err: errorMessage(err), delay },
      'informer stopped; restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.startOnce(), delay);
  }

  private async startOnce() {
    if (this.stopped) return;
    try {
      await this.inf.start();
      this.synced = true;
    } catch (e) {
      this.onError(e);
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.startOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.inf.stop().catch(() => undefined);
  }

  list(): readonly T[] {
    return this.inf.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inf.get(name, namespace);
  }
}
