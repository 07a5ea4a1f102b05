/**
 * Deletion. The finalizer exists only while `deletionPolicy: Delete` asks the operator to remove state outside
 * Kubernetes (the sale's Redis keys and Kafka topics); children go with the owner references (garbage collector).
 * An unreachable Redis or Kafka is retried with backoff and reported (Degraded=True reason CleanupFailed, Warning
 * events). Ways out: set `spec.deletionPolicy: Retain` (the operator then just drops the finalizer), or remove the
 * finalizer by hand.
 */
import { CLEANUP_FINALIZER, parseFlashSaleSpec } from '@flashsale/common';
import { type FlashSaleObject, REASONS } from '../api/types.ts';
import { deleteSaleTopics } from '../external/kafkaSide.ts';
import { deleteSaleKeys } from '../external/redisSide.ts';
import { errorMessage } from '../kube/client.ts';
import { conditionsOf, setCondition } from './conditions.ts';
import type { Deps } from './context.ts';
import { DependencyError, type Result } from './errors.ts';
import { readCredentials } from './readCredentials.ts';

export const hasFinalizer = (s: FlashSaleObject) => (s.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER);

/** Keep the finalizer in line with the policy: present for Delete, absent for Retain. */
export async function manageFinalizer(deps: Deps, sale: FlashSaleObject, policy: 'Delete' | 'Retain') {
  const has = hasFinalizer(sale);
  const list = sale.metadata.finalizers ?? [];
  if (policy === 'Delete' && !has) return deps.kube.setFinalizers(sale, [...list, CLEANUP_FINALIZER]);
  if (policy === 'Retain' && has)
    return deps.kube.setFinalizers(
      sale,
      list.filter((f) => f !== CLEANUP_FINALIZER),
    );
  return sale;
}

export async function finalizeSale(deps: Deps, sale: FlashSaleObject): Promise<Result> {
  if (!hasFinalizer(sale)) return {};
  const { name, namespace } = sale.metadata;
  const parsed = parseFlashSaleSpec(sale.spec);
  const release = () =>
    deps.kube.setFinalizers(
      sale,
      (sale.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER),
    );
  if (!parsed.ok || parsed.spec.deletionPolicy === 'Retain') {
    // nothing we can (or may) clean: an invalid spec names no reachable Redis/Kafka
    await release();
    return {};
  }
  const spec = parsed.spec;
  const problems: string[] = [];
  let keys = 0;
  let deletedTopics: string[] = [];
  const creds = await readCredentials(deps, namespace, spec);
  try {
    keys = await deleteSaleKeys(deps.redis.get(spec.redis, creds.redis), name);
  } catch (e) {
    problems.push(`Redis ${spec.redis.addr}: ${errorMessage(e)}`);
  }
  try {
    deletedTopics = await deleteSaleTopics(await deps.kafka.get(spec.kafka, creds.kafka), name);
  } catch (e) {
    await deps.kafka.drop(spec.kafka, creds.kafka);
    problems.push(`Kafka ${spec.kafka.brokers}: ${errorMessage(e)}`);
  }
  if (problems.length > 0) {
    const msg = `cleanup failed (will retry; to keep the data instead set spec.deletionPolicy=Retain): ${problems.join('; ')}`;
    deps.recorder.event(sale, 'Warning', REASONS.CleanupFailed, msg);
    const now = new Date(deps.now());
    const conditions = setCondition(
      conditionsOf(sale.status),
      'Degraded',
      'True',
      REASONS.CleanupFailed,
      msg,
      sale.metadata.generation,
      now,
    );
    await deps.kube.patchFlashSaleStatus(namespace, name, { ...sale.status, conditions }).catch(() => undefined);
    throw new DependencyError(msg);
  }
  deps.recorder.event(
    sale,
    'Normal',
    'CleanedUp',
    `Deleted ${keys} Redis key(s) and topic(s) ${deletedTopics.join(', ') || '(none)'}`,
  );
  deps.log.info(
    { event: 'sale_cleaned', flashsale: `${namespace}/${name}`, keys, topics: deletedTopics },
    'cleaned up',
  );
  await release();
  return {};
}
