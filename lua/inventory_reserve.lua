-- Reserve stock for one order: dedupe, per-user limit, stock check, decrement, hold, status. Atomic.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset), KEYS[4] order hash, KEYS[5] user units
-- ARGV[1] order id, ARGV[2] user id, ARGV[3] quantity, ARGV[4] now ms, ARGV[5] hold ttl ms,
-- ARGV[6] correlation id, ARGV[7] request id, ARGV[8] item id, ARGV[9] stock channel,
-- ARGV[10] status channel, ARGV[11] order record ttl seconds
-- Returns {status, reason, remaining, hold_expires_at, replayed (0|1)}.
-- The order hash is the dedupe marker: only an absent or QUEUED order is acted on; any other status is
-- returned unchanged, so a redelivered message changes nothing.
local status = redis.call('HGET', KEYS[4], 'status')
if status and status ~= 'QUEUED' then
  local o = redis.call('HMGET', KEYS[4], 'reason', 'hold_expires_at')
  return {status, o[1] or '', tonumber(redis.call('GET', KEYS[1]) or '0'), o[2] or '', 1}
end
local qty = tonumber(ARGV[3])
local now = ARGV[4]
if qty == nil or qty < 1 then
  return redis.error_reply('ERR quantity must be a positive integer')
end
local function finish(st, reason, remaining, expires)
  redis.call('HSET', KEYS[4], 'status', st, 'reason', reason, 'user_id', ARGV[2], 'quantity', qty,
    'correlation_id', ARGV[6], 'request_id', ARGV[7], 'updated_at', now)
  if redis.call('HEXISTS', KEYS[4], 'created_at') == 0 then
    redis.call('HSET', KEYS[4], 'created_at', now)
  end
  if expires ~= '' then
    redis.call('HSET', KEYS[4], 'hold_expires_at', expires)
  end
  redis.call('EXPIRE', KEYS[4], ARGV[11])
  redis.call('PUBLISH', ARGV[10], cjson.encode({order_id = ARGV[1], item_id = ARGV[8], status = st}))
  return {st, reason, remaining, expires, 0}
end
local meta = redis.call('HMGET', KEYS[2], 'initial', 'per_user_limit')
if not meta[1] then
  return finish('REJECTED', 'unknown_item', 0, '')
end
local remaining = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(meta[2] or '0')
if limit > 0 then
  local owned = tonumber(redis.call('GET', KEYS[5]) or '0')
  if owned + qty > limit then
    return finish('LIMIT_EXCEEDED', 'per_user_limit', remaining, '')
  end
end
if remaining < qty then
  return finish('SOLD_OUT', remaining == 0 and 'sold_out' or 'insufficient_stock', remaining, '')
end
remaining = redis.call('DECRBY', KEYS[1], qty)
redis.call('HINCRBY', KEYS[2], 'held', qty)
local expires = tonumber(now) + tonumber(ARGV[5])
redis.call('ZADD', KEYS[3], expires, ARGV[1])
redis.call('INCRBY', KEYS[5], qty)
redis.call('EXPIRE', KEYS[5], ARGV[11])
if remaining == 0 then
  redis.call('PUBLISH', ARGV[9], cjson.encode({event = 'sold_out', item_id = ARGV[8], remaining = 0}))
end
return finish('RESERVED', '', remaining, tostring(expires))
