/** The sale's ConfigMap: the environment gateway and processor share (both read it with envFrom). */
import { createHash } from 'node:crypto';
import { type FlashSaleSpec, sharedEnv } from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { childMeta, type SaleRef } from './meta.ts';

/** The mapping lives in @flashsale/common (sale-env.ts), shared with `flashsale up`. */
export { sharedEnv };

export function buildConfigMap(sale: SaleRef, spec: FlashSaleSpec) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(sale, childNames(sale.name).config, 'config'),
    data: sharedEnv(sale.name, spec),
  };
}

/** Stable hash of data, put on pod templates so a configuration change rolls the pods. */
export function configHash(data: unknown): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
}
