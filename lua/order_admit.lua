-- Admission of one order in one call (gateway/src/orders/admission.ts): the per-user token bucket, the idempotency
-- check, the per-user limit and the QUEUED order record. Every key carries the item's hash tag {<sale>:<item>}, the
-- tag the processor's reserve already needs for the order record and the user's units, so this runs on one Redis
-- Cluster slot. The order record is the idempotency claim: its id is derived from (sale, user, key), so a retry
-- finds it; KEYS[2] holds the answer once Kafka acknowledged (storeOrderAnswer, common/src/order.ts).
-- KEYS[1] order hash, KEYS[2] stored answer (string '<quantity> <body>'), KEYS[3] user bucket (string
--         '<tokens> <ms>'), KEYS[4] units the user holds or bought (the processor's counter)
-- ARGV[1] now ms (the gateway's clock), [2] user id, [3] quantity, [4] correlation id, [5] request id (the key),
--      [6] per-user limit (0: none), [7] bucket capacity (0: no bucket), [8] refill tokens per second,
--      [9] pending ms (a claim older than this, never answered, is taken over), [10] record ttl seconds,
--      [11] broker open (1: refuse new orders, answer stored ones)
-- Returns {outcome, remaining tokens (-1: no bucket), retry ms, full ms, detail}; outcome is one of
--   'limited' (bucket empty, nothing else read), 'replay' (detail: the stored body), 'mismatch' (same key, other
--   quantity), 'inflight' (claimed moments ago, not answered yet), 'broker' (breaker open, nothing written),
--   'limit' (per-user limit), 'exists' (the order is past QUEUED without a stored answer; detail: its status),
--   'new' (record created: send it), 'resend' (a stale QUEUED claim taken over: send it again).
local now = tonumber(ARGV[1])
local qty = ARGV[3]
local reads = redis.call('MGET', KEYS[3], KEYS[4], KEYS[2])

local remaining, full_ms = -1, 0
local capacity = tonumber(ARGV[7])
if capacity > 0 then
  local rate = tonumber(ARGV[8]) / 1000
  local tokens, ts = capacity, now
  if reads[1] then
    local t, s = string.match(reads[1], '^(%S+) (%S+)$')
    tokens, ts = tonumber(t) or capacity, tonumber(s) or now
  end
  if now > ts then
    tokens = math.min(capacity, tokens + (now - ts) * rate)
    ts = now
  end
  if tokens < 1 then
    return {'limited', math.floor(tokens), math.ceil((1 - tokens) / rate), math.ceil((capacity - tokens) / rate)}
  end
  tokens = tokens - 1
  full_ms = math.ceil((capacity - tokens) / rate)
  redis.call('SET', KEYS[3], string.format('%.6f %d', tokens, ts), 'PX', full_ms + 1000)
  remaining = math.floor(tokens)
end
local function answer(outcome, detail)
  return {outcome, remaining, 0, full_ms, detail or ''}
end

if reads[3] then
  local q, body = string.match(reads[3], '^(%d+) (.*)$')
  if q ~= qty then
    return answer('mismatch')
  end
  return answer('replay', body)
end

local o = redis.call('HMGET', KEYS[1], 'status', 'quantity', 'updated_at')
if o[1] then
  if o[2] ~= qty then
    return answer('mismatch')
  end
  if o[1] ~= 'QUEUED' then
    return answer('exists', o[1])
  end
  if now - (tonumber(o[3]) or 0) < tonumber(ARGV[9]) then
    return answer('inflight')
  end
  if ARGV[11] == '1' then
    return answer('broker')
  end
  -- a gateway died mid-send (or its cancel failed): the message may or may not be in Kafka; send it again
  redis.call('HSET', KEYS[1], 'correlation_id', ARGV[4], 'updated_at', now)
  return answer('resend')
end

if ARGV[11] == '1' then
  return answer('broker')
end
local limit = tonumber(ARGV[6])
if limit > 0 and (tonumber(reads[2]) or 0) + tonumber(qty) > limit then
  return answer('limit')
end
redis.call('HSET', KEYS[1], 'status', 'QUEUED', 'user_id', ARGV[2], 'quantity', qty, 'correlation_id', ARGV[4],
  'request_id', ARGV[5], 'created_at', now, 'updated_at', now)
redis.call('EXPIRE', KEYS[1], ARGV[10])
return answer('new')
