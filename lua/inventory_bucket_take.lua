-- Hot-item buckets, step 2 of reserve (one bucket's slot): take the order's units from this bucket, idempotently.
-- KEYS[1] bucket stock, KEYS[2] bucket takes (hash order id -> units)
-- ARGV[1] order id, ARGV[2] quantity, ARGV[3] mode: take | peek, ARGV[4] takes ttl seconds
-- Returns {units taken by this order in this bucket (0: none), remaining in the bucket}.
local prior = redis.call('HGET', KEYS[2], ARGV[1])
local remaining = tonumber(redis.call('GET', KEYS[1]) or '0')
if prior then
  return {tonumber(prior), remaining}
end
if ARGV[3] ~= 'take' then
  return {0, remaining}
end
local qty = tonumber(ARGV[2])
if remaining < qty then
  return {0, remaining}
end
remaining = redis.call('DECRBY', KEYS[1], qty)
redis.call('HSET', KEYS[2], ARGV[1], qty)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {qty, remaining}
