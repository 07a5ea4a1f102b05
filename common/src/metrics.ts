/** Metric names (the runbook's, kept) in one place; services register them with prom-client. */
export const GATEWAY_METRICS = {
  ordersReceived: 'gateway_orders_received_total',
  ordersSuccessful: 'gateway_orders_successful_total',
  ordersFailed: 'gateway_orders_failed_total',
  ordersValidationFailed: 'gateway_orders_validation_failed_total',
  ordersIdempotencyRejected: 'gateway_orders_idempotency_rejected_total',
  requestDuration: 'gateway_request_duration_seconds',
  circuitBreakerState: 'gateway_circuit_breaker_state',
  rateLimited: 'gateway_rate_limited_total',
  soldOutFastPath: 'gateway_orders_sold_out_fast_path_total',
  httpRequests: 'http_requests_total',
  httpRequestDuration: 'http_request_duration_seconds',
  httpRequestsInProgress: 'http_requests_inprogress',
  httpResponseSize: 'http_response_size_bytes',
} as const;

export const PROCESSOR_METRICS = {
  ordersProcessed: 'processor_orders_processed_total',
  ordersProcessedSuccess: 'processor_orders_processed_success_total',
  ordersProcessedFailed: 'processor_orders_processed_failed_total',
  ordersSoldOut: 'processor_orders_sold_out_total',
  ordersMovedToDlq: 'processor_orders_moved_to_dlq_total',
  processingDuration: 'processor_order_processing_duration_seconds',
  dlqSize: 'processor_dlq_size',
  dlqOldestAge: 'processor_dlq_oldest_message_age_seconds',
  inventoryLevel: 'processor_inventory_level',
  consumerLag: 'processor_consumer_lag',
  holdsExpired: 'processor_holds_expired_total',
  inventoryDrift: 'processor_inventory_drift',
  sweepItems: 'processor_sweep_items_total',
  /** accepted orders found QUEUED past STUCK_ORDER_AFTER, by action: republished | finalized */
  ordersStuck: 'processor_orders_stuck_total',
  /** payments refunded by the processor, by reason (paid_after_expiry: the payment landed after the hold expired) */
  refunds: 'processor_refunds_total',
} as const;

/** controller-runtime names, so operator dashboards users already have keep working. */
export const OPERATOR_METRICS = {
  reconcileTotal: 'controller_runtime_reconcile_total',
  reconcileErrors: 'controller_runtime_reconcile_errors_total',
  reconcileTime: 'controller_runtime_reconcile_time_seconds',
  workqueueDepth: 'workqueue_depth',
  workqueueAdds: 'workqueue_adds_total',
  workqueueRetries: 'workqueue_retries_total',
  leaderStatus: 'leader_election_master_status',
  salePhase: 'flashsale_phase',
  saleSold: 'flashsale_sold_units',
  saleRemaining: 'flashsale_remaining_units',
  /** the processor group's lag on a sale's orders topic, summed over partitions, labels `namespace` and `sale` */
  saleConsumerLag: 'flashsale_consumer_lag',
  /** a sale's Deployments: `state` desired (the autoscaler's decision) or ready, per `component`, labels as above */
  saleReplicas: 'flashsale_replicas',
} as const;

export const CIRCUIT_STATE_VALUE = { closed: 0, open: 1, halfOpen: 2 } as const;
