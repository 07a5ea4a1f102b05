-- Hot-item buckets, step 1 of reserve (the item's home slot): dedupe and per-user limit, atomically.
-- KEYS[1] meta, KEYS[2] order hash, KEYS[3] user units
-- ARGV[1] order id, ARGV[2] user id, ARGV[3] quantity, ARGV[4] now ms, ARGV[5] correlation id, ARGV[6] request id,
-- ARGV[7] item id, ARGV[8] status channel, ARGV[9] order record ttl seconds, ARGV[10] mode: claim (default) | sold_out
-- Returns {status, reason, replayed (0|1), resumed (0|1)}: status CLAIMING means "take units from a bucket, then
-- commit"; resumed = 1 when the order was already CLAIMING (a replay after a crash: look for an earlier take first).
-- Mode sold_out (the caller has just read every bucket empty): the same dedupe and per-user limit, then the order is
-- answered SOLD_OUT at once instead of being claimed (an order already CLAIMING is left to the full reserve).
local status = redis.call('HGET', KEYS[2], 'status')
if status == 'CLAIMING' then
  return {'CLAIMING', '', 0, 1}
end
if status and status ~= 'QUEUED' then
  return {status, redis.call('HGET', KEYS[2], 'reason') or '', 1, 0}
end
local qty = tonumber(ARGV[3])
if qty == nil or qty < 1 then
  return redis.error_reply('ERR quantity must be a positive integer')
end
local function record(st, reason)
  redis.call('HSET', KEYS[2], 'status', st, 'reason', reason, 'user_id', ARGV[2], 'quantity', qty,
    'correlation_id', ARGV[5], 'request_id', ARGV[6], 'updated_at', ARGV[4])
  if redis.call('HEXISTS', KEYS[2], 'created_at') == 0 then
    redis.call('HSET', KEYS[2], 'created_at', ARGV[4])
  end
  redis.call('EXPIRE', KEYS[2], ARGV[9])
end
local meta = redis.call('HMGET', KEYS[1], 'initial', 'per_user_limit')
if not meta[1] then
  record('REJECTED', 'unknown_item')
  redis.call('PUBLISH', ARGV[8], cjson.encode({order_id = ARGV[1], item_id = ARGV[7], status = 'REJECTED'}))
  return {'REJECTED', 'unknown_item', 0, 0}
end
local limit = tonumber(meta[2] or '0')
if limit > 0 then
  local owned = tonumber(redis.call('GET', KEYS[3]) or '0')
  if owned + qty > limit then
    record('LIMIT_EXCEEDED', 'per_user_limit')
    redis.call('PUBLISH', ARGV[8], cjson.encode({order_id = ARGV[1], item_id = ARGV[7], status = 'LIMIT_EXCEEDED'}))
    return {'LIMIT_EXCEEDED', 'per_user_limit', 0, 0}
  end
end
if ARGV[10] == 'sold_out' then
  record('SOLD_OUT', 'sold_out')
  redis.call('PUBLISH', ARGV[8], cjson.encode({order_id = ARGV[1], item_id = ARGV[7], status = 'SOLD_OUT'}))
  return {'SOLD_OUT', 'sold_out', 0, 0}
end
-- the user's units count from the claim on, so concurrent claims of one user cannot pass the limit together
redis.call('INCRBY', KEYS[3], qty)
redis.call('EXPIRE', KEYS[3], ARGV[9])
record('CLAIMING', '')
return {'CLAIMING', '', 0, 0}
