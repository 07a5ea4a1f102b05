/**
 * A babysat client-node informer: restarts with jittered exponential backoff after an error (client-node stops the
 * informer on most errors), ignores the AbortError that stop() itself raises, records the last event for liveness,
 * and reports whether the first list has completed (the cache is synced).
 *
 * client-node emits `connect` at the START of every (re)connection attempt, before its list or watch request has
 * been answered, also when that attempt then fails. So `connect` proves nothing: synced is set by a list that
 * returned, and failingSince is cleared only by a list that returned, an event, or a restart that raised no error.
 * (Counting on `connect` made /readyz answer ok while the API server had never been reached, and reset failingSince
 * on every retry, so the /healthz check of a watch stuck for minutes could never fire.)
 *
 * 410 Gone (a watch resumed from a compacted or expired resourceVersion) is client-node's: it forgets the
 * resourceVersion and relists; the relist's differences come through add/update/delete like any event.
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
  /** errors seen (a restart that adds none has connected) */
  private errors = 0;

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
    const listed: ListPromise<T> = async () => {
      const result = await list();
      this.synced = true;
      this.failingSince = undefined;
      return result;
    };
    this.inf = makeInformer(kc, path, listed, labelSelector);
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
    this.errors++;
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
    const errorsBefore = this.errors;
    try {
      // resolves once the list (when needed) returned and the watch request was answered, or after an error
      await this.inf.start();
      if (this.errors === errorsBefore && !this.stopped) this.failingSince = undefined;
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
