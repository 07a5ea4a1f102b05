-- Hot-item buckets: expire due holds of a bucketed item in one bounded batch (the item's home slot). Each hold is
-- settled with the same compare-and-set as inventory_bucket_settle (only a RESERVED order expires) and its give-back
-- is recorded as pending in the gives hash; the caller returns the units to their buckets (common/src/buckets.ts).
-- KEYS[1] meta, KEYS[2] holds (zset), KEYS[3] pending gives (hash)
-- ARGV[1] now ms, ARGV[2] batch size, ARGV[3] item id, ARGV[4] status channel, ARGV[5] order key prefix,
-- ARGV[6] user key prefix (both in the item's hash slot)
-- Returns {orders expired, units, holds left that are already due}.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n, units = 0, 0
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  local okey = ARGV[5] .. id
  local o = redis.call('HMGET', okey, 'status', 'quantity', 'user_id', 'bucket')
  if o[1] == 'RESERVED' then
    local qty = tonumber(o[2] or '0')
    redis.call('HINCRBY', KEYS[1], 'held', -qty)
    redis.call('HINCRBY', KEYS[1], 'expired', qty)
    if o[3] then
      local left = redis.call('DECRBY', ARGV[6] .. o[3], qty)
      if left <= 0 then redis.call('DEL', ARGV[6] .. o[3]) end
    end
    if o[4] and tonumber(o[4]) >= 0 then redis.call('HSET', KEYS[3], id, o[4]) end
    redis.call('HSET', okey, 'status', 'EXPIRED', 'reason', 'hold_expired', 'updated_at', ARGV[1])
    redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = id, item_id = ARGV[3], status = 'EXPIRED'}))
    n = n + 1
    units = units + qty
  end
end
local left = redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1])
return {n, units, left}
