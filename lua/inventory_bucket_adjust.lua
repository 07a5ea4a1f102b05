-- Hot-item buckets: move units into (delta > 0) or out of (delta < 0) one bucket for a seed operation, once.
-- A reduction takes only units still in the bucket (never below 0). The applied change is recorded under the
-- operation's marker in the bucket's takes hash, so a repeated call returns it and changes nothing.
-- KEYS[1] bucket stock, KEYS[2] bucket takes
-- ARGV[1] marker (`~seed:<op>:<pass>`, never an order id), ARGV[2] delta, ARGV[3] takes ttl seconds
-- Returns {units applied (signed), remaining in the bucket}.
local prior = redis.call('HGET', KEYS[2], ARGV[1])
local remaining = tonumber(redis.call('GET', KEYS[1]) or '0')
if prior then
  return {tonumber(prior), remaining}
end
local delta = tonumber(ARGV[2])
local applied = delta
if delta < 0 then
  applied = -math.min(-delta, math.max(remaining, 0))
end
if applied ~= 0 then
  remaining = redis.call('INCRBY', KEYS[1], applied)
end
redis.call('HSET', KEYS[2], ARGV[1], applied)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {applied, remaining}
