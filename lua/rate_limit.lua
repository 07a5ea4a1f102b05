-- Token bucket in one call. Burst capacity is the ceiling; tokens refill continuously.
-- KEYS[1] bucket hash {tokens, ts}
-- ARGV[1] capacity (tokens), ARGV[2] refill rate (tokens per second), ARGV[3] cost (tokens)
-- Returns {allowed (0|1), remaining (whole tokens), retry_after_ms (0 when allowed), full_after_ms}.
-- Time comes from the Redis server (TIME), so every gateway sees one clock per bucket.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000
local cost = tonumber(ARGV[3])
if capacity == nil or capacity <= 0 or rate == nil or rate <= 0 or cost == nil or cost < 0 then
  return redis.error_reply('ERR rate_limit: capacity and rate must be positive, cost not negative')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
end
if tokens > capacity then
  tokens = capacity
end
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) / rate)
end
local full_ms = math.ceil((capacity - tokens) / rate)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], full_ms + 1000)
return {allowed, math.floor(tokens), retry_ms, full_ms}
