/**
 * The operator's Kubernetes access in one place: server-side apply with the operator's field manager, reads that
 * return null on 404, the /status subresource with merge-patch, finalizers, API discovery. client-node 2.x errors
 * are ApiException with `.code` (HTTP status) and `.body` (a JSON string).
 */

import { FLASHSALE_GROUP, FLASHSALE_PLURAL, FLASHSALE_VERSION } from '@flashsale/common';
import {
  ApiException,
  ApisApi,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, type FlashSaleObject, type FlashSaleStatus } from '../api/types.ts';

export type AnyObject = KubernetesObject & Record<string, unknown>;

export function httpCode(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiException) {
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      if (body?.message) return `HTTP ${e.code}: ${body.message}`;
    } catch {
      /* not JSON */
    }
    return `HTTP ${e.code}: ${String(e.body ?? e.message).slice(0, 300)}`;
  }
  return (e as Error)?.message ?? String(e);
}

export const isNotFound = (e: unknown) => httpCode(e) === 404;
export const isConflict = (e: unknown) => httpCode(e) === 409;

const DISCOVERY_TTL_MS = 30_000;

export class Kube {
  readonly kc: KubeConfig;
  readonly objects: KubernetesObjectApi;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
  private readonly apis: ApisApi;
  private discovery: { at: number; groupVersions: Set<string> } | undefined;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.apis = kc.makeApiClient(ApisApi);
  }

  /** Server-side apply (force: the operator owns the fields it sets). */
  async apply<T extends KubernetesObject>(obj: T, fieldManager: string = FIELD_MANAGER): Promise<T> {
    return this.objects.patch(obj, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
  }

  async get<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, name: string) {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as T;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** Delete if present; true when something was deleted. */
  async deleteIfExists(apiVersion: string, kind: string, namespace: string, name: string): Promise<boolean> {
    try {
      await this.objects.delete({ apiVersion, kind, metadata: { name, namespace } });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async getFlashSale(namespace: string, name: string): Promise<FlashSaleObject | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: FLASHSALE_GROUP,
        version: FLASHSALE_VERSION,
        plural: FLASHSALE_PLURAL,
        namespace,
        name,
      })) as FlashSaleObject;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** Merge-patch the /status subresource (the content type must be set explicitly with client-node 2.x). */
  async patchFlashSaleStatus(namespace: string, name: string, status: FlashSaleStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: FLASHSALE_GROUP,
        version: FLASHSALE_VERSION,
        plural: FLASHSALE_PLURAL,
        namespace,
        name,
        body: { status },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Replace the finalizer list, guarded by resourceVersion (optimistic concurrency: 409 on a stale read). */
  async setFinalizers(obj: FlashSaleObject, finalizers: string[]): Promise<FlashSaleObject> {
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: FLASHSALE_GROUP,
        version: FLASHSALE_VERSION,
        plural: FLASHSALE_PLURAL,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as FlashSaleObject;
  }

  /** Is `group/version` served? Cached for 30 s (CRDs may be installed while the operator runs). */
  async hasGroupVersion(groupVersion: string): Promise<boolean> {
    const now = Date.now();
    if (!this.discovery || now - this.discovery.at > DISCOVERY_TTL_MS) {
      const list = await this.apis.getAPIVersions();
      const gvs = new Set<string>();
      for (const g of list.groups) for (const v of g.versions) gvs.add(v.groupVersion);
      this.discovery = { at: now, groupVersions: gvs };
    }
    return this.discovery.groupVersions.has(groupVersion);
  }

  async readSecretKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    try {
      const s = await this.core.readNamespacedSecret({ namespace, name });
      const v = s.data?.[key];
      return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}
