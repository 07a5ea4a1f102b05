-- Hot-item buckets, step 3 of reserve (the item's home slot): CLAIMING -> RESERVED (units taken from a bucket) or
-- CLAIMING -> SOLD_OUT (every bucket was empty: the user's units are returned). A replay changes nothing.
-- KEYS[1] meta, KEYS[2] holds (zset), KEYS[3] order hash, KEYS[4] user units
-- ARGV[1] order id, ARGV[2] bucket (-1: none), ARGV[3] now ms, ARGV[4] hold ttl ms, ARGV[5] item id,
-- ARGV[6] status channel
-- Returns {status, reason, hold_expires_at, replayed (0|1), bucket recorded (-1: none)}; on a replay the caller gives
-- back a take of its own in another bucket (two deliveries of one order resumed concurrently).
local o = redis.call('HMGET', KEYS[3], 'status', 'quantity', 'reason', 'hold_expires_at', 'bucket')
if o[1] ~= 'CLAIMING' then
  return {o[1] or 'UNKNOWN', o[3] or '', o[4] or '', 1, tonumber(o[5] or '-1')}
end
local qty = tonumber(o[2] or '0')
local bucket = tonumber(ARGV[2])
if bucket < 0 then
  local left = redis.call('DECRBY', KEYS[4], qty)
  if left <= 0 then redis.call('DEL', KEYS[4]) end
  redis.call('HSET', KEYS[3], 'status', 'SOLD_OUT', 'reason', 'sold_out', 'updated_at', ARGV[3])
  redis.call('PUBLISH', ARGV[6], cjson.encode({order_id = ARGV[1], item_id = ARGV[5], status = 'SOLD_OUT'}))
  return {'SOLD_OUT', 'sold_out', '', 0, -1}
end
local expires = tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[1], 'held', qty)
redis.call('ZADD', KEYS[2], expires, ARGV[1])
redis.call('HSET', KEYS[3], 'status', 'RESERVED', 'reason', '', 'bucket', bucket, 'hold_expires_at', tostring(expires),
  'updated_at', ARGV[3])
redis.call('PUBLISH', ARGV[6], cjson.encode({order_id = ARGV[1], item_id = ARGV[5], status = 'RESERVED'}))
return {'RESERVED', '', tostring(expires), 0, bucket}
