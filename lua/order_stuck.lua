-- An accepted order still QUEUED long after it was sent (processor/src/stuck-orders.ts): its Kafka message never
-- reached a processor (lost by the broker, a deleted topic, a bug). Only while the record is still QUEUED: an order a
-- processor moved on meanwhile is left alone (the processor acts on absent or QUEUED, so a re-sent copy is harmless).
-- KEYS[1] order hash itemKeys(sale, item).order(order id)
-- ARGV[1] mode: 'republished' (its message was sent again: count it) or 'finalize' (end it as REJECTED),
--      [2] now ms, [3] reason (finalize), [4] order id, [5] item id, [6] status channel (finalize)
-- Returns the number of re-sends so far ('republished'), 1 when finalized, or 0 when the order is no longer QUEUED.
if redis.call('HGET', KEYS[1], 'status') ~= 'QUEUED' then
  return 0
end
if ARGV[1] == 'republished' then
  redis.call('HSET', KEYS[1], 'republished_at', ARGV[2])
  return redis.call('HINCRBY', KEYS[1], 'republished', 1)
end
redis.call('HSET', KEYS[1], 'status', 'REJECTED', 'reason', ARGV[3], 'updated_at', ARGV[2])
redis.call('PUBLISH', ARGV[6], cjson.encode({order_id = ARGV[4], item_id = ARGV[5], status = 'REJECTED'}))
return 1
