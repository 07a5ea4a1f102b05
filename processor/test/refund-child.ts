/**
 * A processor process for processor/test/refunds.test.ts: the real processor (main's configuration from the
 * environment) with a payment provider that lands its charges after the hold's TTL and writes each charge and
 * refund it is asked for to REFUND_LOG (one JSON line each), so the test sees what reached the provider across a
 * crash. Order ids containing "hang" never get an answer (the payment timeout ends them). CRASH_IN_REFUND=1: the
 * process kills itself right after the provider refunded, before the processor records it.
 */
import { appendFileSync } from 'node:fs';
import { loadConfig } from '../src/config.ts';
import type { PaymentProvider, PaymentRequest, PaymentResult, RefundResult } from '../src/payment.ts';
import { startProcessor } from '../src/processor.ts';

const log = (event: string, req: PaymentRequest) =>
  appendFileSync(process.env.REFUND_LOG!, `${JSON.stringify({ event, order_id: req.orderId, pid: process.pid })}\n`);
const lateMs = Number(process.env.CHARGE_AFTER_MS ?? '1300');

const provider: PaymentProvider = {
  charge(req: PaymentRequest, signal: AbortSignal): Promise<PaymentResult> {
    log('charge', req);
    return new Promise((resolve) => {
      const timer = req.orderId.includes('hang') ? undefined : setTimeout(() => resolve({ ok: true }), lateMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve({ ok: false, reason: 'payment_timeout', error: 'no answer (test)' });
      });
    });
  },
  async refund(req: PaymentRequest): Promise<RefundResult> {
    log('refund', req);
    if (process.env.CRASH_IN_REFUND === '1') process.kill(process.pid, 'SIGKILL');
    return { ok: true };
  },
};

await startProcessor(loadConfig(), { payment: provider, defaultMetrics: false });
