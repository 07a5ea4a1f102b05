-- Return expired holds to stock in one bounded batch: holds scored <= now, at most ARGV[2] of them.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset)
-- ARGV[1] now ms, ARGV[2] batch size, ARGV[3] item id, ARGV[4] stock channel, ARGV[5] status channel,
-- ARGV[6] order key prefix, ARGV[7] user key prefix (both in the item's hash slot)
-- Returns {orders expired, units returned, holds left that are already due}.
-- Each hold is settled with the same compare-and-set as release: only a RESERVED order expires.
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n, units = 0, 0
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[3], id)
  local okey = ARGV[6] .. id
  local o = redis.call('HMGET', okey, 'status', 'quantity', 'user_id')
  if o[1] == 'RESERVED' then
    local qty = tonumber(o[2] or '0')
    redis.call('INCRBY', KEYS[1], qty)
    redis.call('HINCRBY', KEYS[2], 'held', -qty)
    redis.call('HINCRBY', KEYS[2], 'expired', qty)
    if o[3] then
      local left = redis.call('DECRBY', ARGV[7] .. o[3], qty)
      if left <= 0 then redis.call('DEL', ARGV[7] .. o[3]) end
    end
    redis.call('HSET', okey, 'status', 'EXPIRED', 'reason', 'hold_expired', 'updated_at', ARGV[1])
    redis.call('PUBLISH', ARGV[5], cjson.encode({order_id = id, item_id = ARGV[3], status = 'EXPIRED'}))
    n = n + 1
    units = units + qty
  end
end
if before == 0 and units > 0 then
  redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'restocked', item_id = ARGV[3], remaining = units}))
end
local left = redis.call('ZCOUNT', KEYS[3], '-inf', ARGV[1])
return {n, units, left}
