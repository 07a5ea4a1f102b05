-- Seed an item once; later calls apply the change of the total as a delta.
-- KEYS[1] stock, KEYS[2] meta
-- ARGV[1] total units wanted, ARGV[2] per-user limit (0 = none), ARGV[3] now ms,
-- ARGV[4] stock channel, ARGV[5] item id
-- Returns {outcome, initial, remaining, applied_delta}; outcome is seeded | unchanged | restocked | reduced.
-- A restock adds units; a reduction only removes units still remaining (never sold or held ones), so
-- remaining never goes below 0 and `initial - remaining == confirmed + held` keeps holding.
local total = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if total == nil or total < 0 or limit == nil or limit < 0 then
  return redis.error_reply('ERR total and limit must be non-negative integers')
end
local initial = tonumber(redis.call('HGET', KEYS[2], 'initial'))
if initial == nil then
  redis.call('SET', KEYS[1], total)
  redis.call('HSET', KEYS[2], 'initial', total, 'confirmed', 0, 'held', 0, 'released', 0, 'expired', 0,
    'restocked', 0, 'reduced', 0, 'per_user_limit', limit, 'seeded_at', ARGV[3])
  return {'seeded', total, total, total}
end
redis.call('HSET', KEYS[2], 'per_user_limit', limit)
local remaining = tonumber(redis.call('GET', KEYS[1]) or '0')
local delta = total - initial
if delta == 0 then
  return {'unchanged', initial, remaining, 0}
end
if delta > 0 then
  redis.call('INCRBY', KEYS[1], delta)
  redis.call('HINCRBY', KEYS[2], 'initial', delta)
  redis.call('HINCRBY', KEYS[2], 'restocked', delta)
  if remaining == 0 then
    redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'restocked', item_id = ARGV[5], remaining = delta}))
  end
  return {'restocked', initial + delta, remaining + delta, delta}
end
local cut = math.min(-delta, remaining)
if cut > 0 then
  redis.call('DECRBY', KEYS[1], cut)
  redis.call('HINCRBY', KEYS[2], 'initial', -cut)
  redis.call('HINCRBY', KEYS[2], 'reduced', cut)
  if remaining - cut == 0 then
    redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'sold_out', item_id = ARGV[5], remaining = 0}))
  end
end
return {'reduced', initial - cut, remaining - cut, -cut}
