-- Admission of N orders of one item in one call (common/src/order-admit.ts, batched by gateway/src/orders/
-- admission.ts): per order the user's token bucket, the idempotency check, the per-user limit and the QUEUED order
-- record, in the order given, as N calls of one order would. Every key carries the item's hash tag {<sale>:<item>},
-- the tag the processor's reserve already needs for the order record and the user's units, so this runs on one Redis
-- Cluster slot. The order record is the idempotency claim: its id is derived from (sale, user, key), so a retry
-- finds it; the stored answer holds the 202 once Kafka acknowledged (lua/order_answers_store.lua).
-- KEYS[1] the first order's hash (routes the call: every key below is in the item's slot)
-- ARGV[1] bucket capacity (0: no bucket), [2] refill tokens per second, [3] pending ms (a claim older than this,
--      never answered, is taken over), [4] record ttl seconds; then 11 per order: order hash, stored answer
--      (string '<quantity> <body>'), user bucket (string '<tokens> <ms>'), units the user holds or bought (the
--      processor's counter), now ms (the gateway's clock), user id, quantity, correlation id, request id (the key),
--      per-user limit (0: none), broker open (1: refuse new orders, answer stored ones)
-- Returns 5 values per order: outcome, remaining tokens (-1: no bucket), retry ms, full ms, detail; outcome is one of
--   'limited' (bucket empty, nothing else read), 'replay' (detail: the stored body), 'mismatch' (same key, other
--   quantity), 'inflight' (claimed moments ago, not answered yet), 'broker' (breaker open, nothing written),
--   'limit' (per-user limit), 'exists' (the order is past QUEUED without a stored answer; detail: its status),
--   'new' (record created: send it), 'resend' (a stale QUEUED claim taken over: send it again).
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000
local pending_ms = tonumber(ARGV[3])
local record_ttl = ARGV[4]

local function admit(order, answer_key, bucket, units, now, user, qty, corr, request_id, limit, broker_open)
  local reads = redis.call('MGET', bucket, units, answer_key)
  local remaining, full_ms = -1, 0
  if capacity > 0 then
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
      return 'limited', math.floor(tokens), math.ceil((1 - tokens) / rate), math.ceil((capacity - tokens) / rate), ''
    end
    tokens = tokens - 1
    full_ms = math.ceil((capacity - tokens) / rate)
    redis.call('SET', bucket, string.format('%.6f %d', tokens, ts), 'PX', full_ms + 1000)
    remaining = math.floor(tokens)
  end
  local function answer(outcome, detail)
    return outcome, remaining, 0, full_ms, detail or ''
  end

  if reads[3] then
    local q, body = string.match(reads[3], '^(%d+) (.*)$')
    if q ~= qty then
      return answer('mismatch')
    end
    return answer('replay', body)
  end

  local o = redis.call('HMGET', order, 'status', 'quantity', 'updated_at')
  if o[1] then
    if o[2] ~= qty then
      return answer('mismatch')
    end
    if o[1] ~= 'QUEUED' then
      return answer('exists', o[1])
    end
    if now - (tonumber(o[3]) or 0) < pending_ms then
      return answer('inflight')
    end
    if broker_open == '1' then
      return answer('broker')
    end
    -- a gateway died mid-send (or its cancel failed): the message may or may not be in Kafka; send it again
    redis.call('HSET', order, 'correlation_id', corr, 'updated_at', now)
    return answer('resend')
  end

  if broker_open == '1' then
    return answer('broker')
  end
  if limit > 0 and (tonumber(reads[2]) or 0) + tonumber(qty) > limit then
    return answer('limit')
  end
  redis.call('HSET', order, 'status', 'QUEUED', 'user_id', user, 'quantity', qty, 'correlation_id', corr,
    'request_id', request_id, 'created_at', now, 'updated_at', now)
  redis.call('EXPIRE', order, record_ttl)
  return answer('new')
end

local out = {}
for i = 5, #ARGV, 11 do
  local a, b, c, d, e = admit(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5],
    ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], tonumber(ARGV[i + 9]), ARGV[i + 10])
  out[#out + 1] = a
  out[#out + 1] = b
  out[#out + 1] = c
  out[#out + 1] = d
  out[#out + 1] = e
end
return out
