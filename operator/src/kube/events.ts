/**
 * Kubernetes Events about FlashSales (core/v1 Events, what `kubectl describe` shows). Repeats of the same
 * (object, type, reason, message) within 10 minutes are dropped so a requeue loop cannot flood the API server.
 */
import { FLASHSALE_API_VERSION, FLASHSALE_KIND, type Logger } from '@flashsale/common';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { ObjectMeta } from '../api/types.ts';
import { errorMessage } from './client.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(obj: { metadata: ObjectMeta }, type: EventType, reason: string, message: string): void;
}

const REPEAT_MS = 10 * 60_000;

export class KubeEventRecorder implements EventRecorder {
  private readonly core: CoreV1Api;
  private readonly log: Logger;
  private readonly component: string;
  private readonly instance: string;
  private readonly recent = new Map<string, number>();

  constructor(core: CoreV1Api, log: Logger, component: string, instance: string) {
    this.core = core;
    this.log = log;
    this.component = component;
    this.instance = instance;
  }

  event(obj: { metadata: ObjectMeta }, type: EventType, reason: string, message: string): void {
    const m = obj.metadata;
    const key = `${m.uid}|${type}|${reason}|${message}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < REPEAT_MS) return;
    this.recent.set(key, now);
    if (this.recent.size > 5000) {
      for (const [k, t] of this.recent) if (now - t > REPEAT_MS) this.recent.delete(k);
    }
    const ts = new Date(now);
    this.core
      .createNamespacedEvent({
        namespace: m.namespace,
        body: {
          metadata: { generateName: `${m.name}.`, namespace: m.namespace },
          involvedObject: {
            apiVersion: FLASHSALE_API_VERSION,
            kind: FLASHSALE_KIND,
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            resourceVersion: m.resourceVersion,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.instance,
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
          action: reason,
        },
      })
      .catch((e) => this.log.warn({ event: 'event_failed', reason, err: errorMessage(e) }, 'could not record event'));
  }
}
