-- The gateway's writes to the order hash (fields as in common/src/order.ts ORDER_FIELDS).
-- KEYS[1] order hash itemKeys(sale, item).order(order_id)
-- ARGV[1] op:
--   'queue'  ARGV[2] order id, [3] item id, [4] user id, [5] quantity, [6] correlation id, [7] request id,
--            [8] now ms, [9] record ttl seconds, [10] status channel
--            Creates the hash with status QUEUED only if absent, sets its TTL and publishes
--            {order_id, item_id, status} on the status channel. Returns {1, 'QUEUED'} when created,
--            {0, <stored status>} when the order already exists (nothing changed).
--   'cancel' ARGV[2] order id, [3] request id
--            The broker never acknowledged the order: delete the hash, but only while it is still QUEUED
--            and was queued by this request id. Returns 1 when deleted, else 0. A late write of the message
--            finds no hash and is processed like any new order (the processor acts on absent or QUEUED).
local op = ARGV[1]
if op == 'queue' then
  local status = redis.call('HGET', KEYS[1], 'status')
  if status then
    return {0, status}
  end
  local now = ARGV[8]
  redis.call('HSET', KEYS[1], 'status', 'QUEUED', 'user_id', ARGV[4], 'quantity', ARGV[5],
    'correlation_id', ARGV[6], 'request_id', ARGV[7], 'created_at', now, 'updated_at', now)
  redis.call('EXPIRE', KEYS[1], ARGV[9])
  redis.call('PUBLISH', ARGV[10], cjson.encode({order_id = ARGV[2], item_id = ARGV[3], status = 'QUEUED'}))
  return {1, 'QUEUED'}
elseif op == 'cancel' then
  local o = redis.call('HMGET', KEYS[1], 'status', 'request_id')
  if o[1] == 'QUEUED' and o[2] == ARGV[3] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
return redis.error_reply('ERR order_queue: unknown op ' .. tostring(op))
