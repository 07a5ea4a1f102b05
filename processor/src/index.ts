export { envSchema, loadConfig, type ProcessorConfig } from './config.ts';
export { buildDlqRecord, createHandler } from './handler.ts';
export {
  chargeWithTimeout,
  type PaymentProvider,
  type PaymentResult,
  type RefundResult,
  refundWithTimeout,
  SimulatedPaymentProvider,
} from './payment.ts';
export { type ProcessorHandle, type StartOptions, startProcessor } from './processor.ts';
