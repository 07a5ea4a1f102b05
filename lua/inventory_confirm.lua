-- Confirm a paid hold: compare-and-set RESERVED -> CONFIRMED, exactly once.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset), KEYS[4] order hash
-- ARGV[1] order id, ARGV[2] now ms, ARGV[3] item id, ARGV[4] stock channel, ARGV[5] status channel,
-- ARGV[6] user key prefix (user key = prefix .. user_id, same hash slot)
-- Returns {status, outcome}; outcome is confirmed | replay (already CONFIRMED) | not_reserved (another final
-- status won, e.g. EXPIRED or PAYMENT_FAILED) | expired (the hold's deadline passed before the payment
-- landed: the hold is released here as EXPIRED with reason paid_after_expiry, so the caller must refund; also when the
-- sweeper had expired the hold already: the reason becomes paid_after_expiry, the record of the charge a refund needs).
local st = redis.call('HGET', KEYS[4], 'status')
if st == 'CONFIRMED' then
  return {st, 'replay'}
end
if st == 'EXPIRED' then
  redis.call('HSET', KEYS[4], 'reason', 'paid_after_expiry', 'updated_at', ARGV[2])
  return {st, 'expired'}
end
if st ~= 'RESERVED' then
  return {st or 'UNKNOWN', 'not_reserved'}
end
local o = redis.call('HMGET', KEYS[4], 'quantity', 'user_id', 'hold_expires_at')
local qty = tonumber(o[1] or '0')
local now = tonumber(ARGV[2])
local deadline = tonumber(o[3] or '0')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'held', -qty)
if deadline > 0 and now > deadline then
  local before = tonumber(redis.call('GET', KEYS[1]) or '0')
  redis.call('INCRBY', KEYS[1], qty)
  redis.call('HINCRBY', KEYS[2], 'expired', qty)
  if o[2] then
    local left = redis.call('DECRBY', ARGV[6] .. o[2], qty)
    if left <= 0 then redis.call('DEL', ARGV[6] .. o[2]) end
  end
  redis.call('HSET', KEYS[4], 'status', 'EXPIRED', 'reason', 'paid_after_expiry', 'updated_at', ARGV[2])
  if before == 0 then
    redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'restocked', item_id = ARGV[3], remaining = qty}))
  end
  redis.call('PUBLISH', ARGV[5], cjson.encode({order_id = ARGV[1], item_id = ARGV[3], status = 'EXPIRED'}))
  return {'EXPIRED', 'expired'}
end
redis.call('HINCRBY', KEYS[2], 'confirmed', qty)
redis.call('HSET', KEYS[4], 'status', 'CONFIRMED', 'reason', '', 'updated_at', ARGV[2])
redis.call('PUBLISH', ARGV[5], cjson.encode({order_id = ARGV[1], item_id = ARGV[3], status = 'CONFIRMED'}))
return {'CONFIRMED', 'confirmed'}
