-- Store the answer of an order Kafka acknowledged, for replays (gateway/src/orders/placement.ts). Written only after
-- the acknowledgement, so a retry never replays a 202 for an order that is not in Kafka. A later answer of the same
-- order (a stale claim taken over and sent again) replaces it: both are true answers for that order.
-- KEYS[1] stored answer itemKeys(sale, item).answer(order id)
-- ARGV[1] '<quantity> <body>', ARGV[2] ttl ms (IDEMPOTENCY_TTL)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
