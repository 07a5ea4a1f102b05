-- Read one item's counters in one consistent step.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset)
-- Returns {seeded (0|1), initial, remaining, confirmed, held, released, expired, live holds, drift,
--          per_user_limit, refunded} where drift = initial - remaining - confirmed - held (must be 0); refunded units
--          (lua/order_refund.lua) are part of expired: they went back to stock.
local m = redis.call('HMGET', KEYS[2], 'initial', 'confirmed', 'held', 'released', 'expired', 'per_user_limit',
  'refunded')
if not m[1] then
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
end
local initial = tonumber(m[1])
local remaining = tonumber(redis.call('GET', KEYS[1]) or '0')
local confirmed = tonumber(m[2] or '0')
local held = tonumber(m[3] or '0')
local holds = redis.call('ZCARD', KEYS[3])
return {1, initial, remaining, confirmed, held, tonumber(m[4] or '0'), tonumber(m[5] or '0'), holds,
  initial - remaining - confirmed - held, tonumber(m[6] or '0'), tonumber(m[7] or '0')}
