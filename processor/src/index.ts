export { envSchema, loadConfig, type ProcessorConfig } from './config.ts';
export { buildDlqRecord, createHandler } from './handler.ts';
export { chargeWithTimeout, type PaymentProvider, type PaymentResult, SimulatedPaymentProvider } from './payment.ts';
export { type ProcessorHandle, type StartOptions, startProcessor } from './processor.ts';
