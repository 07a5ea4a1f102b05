/** Kafka topics of the sale (orders + DLQ) through the admin API: created, grown, never shrunk. */
import { topics } from '@flashsale/common';
import { REASONS } from '../api/types.ts';
import { ensureSaleTopics } from '../external/kafkaSide.ts';
import { errorMessage } from '../kube/client.ts';
import type { ReconcileContext } from './context.ts';

export async function reconcileTopics(ctx: ReconcileContext): Promise<void> {
  const sale = ctx.ref.name;
  const t = topics(sale);
  try {
    const admin = await ctx.deps.kafka.get(ctx.spec.kafka, ctx.credentials.kafka);
    const res = await ensureSaleTopics(admin, sale, ctx.spec);
    ctx.observed.topics = res;
    for (const name of res.created) ctx.event('Normal', 'TopicCreated', `Created topic ${name}`);
    for (const name of res.grown) {
      ctx.event('Normal', 'PartitionsGrown', `Grew topic ${name} to ${res.partitions[name]} partitions`);
    }
    const have = res.partitions[t.orders] ?? 0;
    if (have > ctx.spec.topics.partitions) {
      ctx.condition(
        'TopicsReady',
        'True',
        REASONS.PartitionsCannotShrink,
        `${t.orders} has ${have} partitions, more than spec.topics.partitions=${ctx.spec.topics.partitions}: Kafka cannot shrink a topic`,
      );
    } else {
      ctx.condition('TopicsReady', 'True', REASONS.TopicsCreated, `${t.orders} (${have} partitions) and ${t.dlq}`);
    }
  } catch (e) {
    await ctx.deps.kafka.drop(ctx.spec.kafka, ctx.credentials.kafka);
    const msg = `Kafka ${ctx.spec.kafka.brokers}: ${errorMessage(e)}`;
    ctx.observed.dependencyErrors.push(msg);
    ctx.condition('TopicsReady', 'False', REASONS.KafkaUnavailable, msg);
    ctx.event('Warning', REASONS.KafkaUnavailable, msg);
  }
}
