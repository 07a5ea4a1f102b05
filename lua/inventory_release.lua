-- Release a hold back to stock: compare-and-set RESERVED -> PAYMENT_FAILED | EXPIRED, exactly once.
-- A CONFIRMED order is never restocked; a second release is a no-op.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset), KEYS[4] order hash
-- ARGV[1] order id, ARGV[2] now ms, ARGV[3] item id, ARGV[4] stock channel, ARGV[5] status channel,
-- ARGV[6] user key prefix, ARGV[7] final status (PAYMENT_FAILED | EXPIRED), ARGV[8] reason
-- Returns {status, outcome, units returned}; outcome is released | replay | not_reserved.
local final = ARGV[7]
if final ~= 'PAYMENT_FAILED' and final ~= 'EXPIRED' then
  return redis.error_reply('ERR final status must be PAYMENT_FAILED or EXPIRED')
end
local st = redis.call('HGET', KEYS[4], 'status')
if st == final then
  return {st, 'replay', 0}
end
if st ~= 'RESERVED' then
  return {st or 'UNKNOWN', 'not_reserved', 0}
end
local o = redis.call('HMGET', KEYS[4], 'quantity', 'user_id')
local qty = tonumber(o[1] or '0')
redis.call('ZREM', KEYS[3], ARGV[1])
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('INCRBY', KEYS[1], qty)
redis.call('HINCRBY', KEYS[2], 'held', -qty)
redis.call('HINCRBY', KEYS[2], final == 'EXPIRED' and 'expired' or 'released', qty)
if o[2] then
  local left = redis.call('DECRBY', ARGV[6] .. o[2], qty)
  if left <= 0 then redis.call('DEL', ARGV[6] .. o[2]) end
end
redis.call('HSET', KEYS[4], 'status', final, 'reason', ARGV[8], 'updated_at', ARGV[2])
if before == 0 and qty > 0 then
  redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'restocked', item_id = ARGV[3], remaining = qty}))
end
redis.call('PUBLISH', ARGV[5], cjson.encode({order_id = ARGV[1], item_id = ARGV[3], status = final}))
return {final, 'released', qty}
