-- Hot-item buckets: give an order's units back to the bucket it took them from, once (the take marker is the guard).
-- KEYS[1] bucket stock, KEYS[2] bucket takes
-- ARGV[1] order id
-- Returns {units returned (0: already returned or never taken), remaining in the bucket}.
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if not prior then
  return {0, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
redis.call('HDEL', KEYS[2], ARGV[1])
local remaining = redis.call('INCRBY', KEYS[1], tonumber(prior))
return {tonumber(prior), remaining}
