/** The dead-letter contract: original bytes and headers, plus these. */
import { z } from 'zod';

export const DLQ_REASONS = [
  'payment_failed',
  'payment_timeout',
  'redis_failure',
  'invalid_order_format',
  'unknown_item',
  'hold_expired',
  'processing_error',
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];
export const dlqReasonSchema = z.enum(DLQ_REASONS);

/**
 * Dead letters that record a business outcome, not a fault: the payment provider declined or did not answer, the
 * order ended PAYMENT_FAILED and its units went back to stock. They stay in the DLQ (a replay retries the payment
 * once the provider recovered) but no one has to act on them, so the DLQ alerts leave them out. Every other reason
 * (a fault, a bug, a customer charged after the hold expired whose automatic refund failed: `hold_expired`) needs
 * someone. A refunded order (REFUNDED) gets no dead letter at all: it is final and needs no one.
 */
export const BUSINESS_OUTCOME_DLQ_REASONS = [
  'payment_failed',
  'payment_timeout',
] as const satisfies readonly DlqReason[];
/** The `reason` label of a DLQ gauge for dead letters this processor has not read yet (their reason is unknown). */
export const DLQ_REASON_UNREAD = 'unread';

export const DLQ_HEADERS = {
  reason: 'dlq_reason',
  error: 'dlq_error',
  correlationId: 'correlation_id',
  requestId: 'request_id',
  attempt: 'dlq_attempt',
  originalTopic: 'dlq_original_topic',
  originalPartition: 'dlq_original_partition',
  originalOffset: 'dlq_original_offset',
  timestamp: 'dlq_timestamp',
} as const;

/** The DLQ headers as strings, validated on read (redrive) and built on write (processor). */
export const dlqHeadersSchema = z.object({
  dlq_reason: dlqReasonSchema,
  dlq_error: z.string().max(1024),
  correlation_id: z.string(),
  request_id: z.string(),
  dlq_attempt: z.string().regex(/^\d+$/),
  dlq_original_topic: z.string().min(1),
  dlq_original_partition: z.string().regex(/^\d+$/),
  dlq_original_offset: z.string().regex(/^\d+$/),
  dlq_timestamp: z.iso.datetime(),
});
export type DlqHeaders = z.infer<typeof dlqHeadersSchema>;

/** Decode kafkajs headers (Buffer | string | array) into plain strings. */
export function headersToStrings(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (one !== undefined) out[k] = one.toString();
  }
  return out;
}
