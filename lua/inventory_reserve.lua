-- Reserve stock for N orders of one item, in the order given: dedupe, per-user limit, stock check, decrement, hold,
-- status, for each. Atomic. One call per item and batch is the processor's reserve (fewer round trips; the items'
-- keys share one hash tag, so it runs on one Redis Cluster slot); N = 1 is a single reserve.
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset)
-- ARGV[1] now ms, ARGV[2] hold ttl ms, ARGV[3] item id, ARGV[4] stock channel, ARGV[5] status channel,
-- ARGV[6] order record ttl seconds, ARGV[7] order key prefix, ARGV[8] user key prefix (order key = prefix .. order id,
-- user units = prefix .. user id: the item's hash tag, so the same slot; a fixed KEYS count lets the client route the
-- call by KEYS[1]), ARGV[9] the orders: a JSON array of [order id, user id, quantity, correlation id, request id].
-- Returns a JSON array of one [status, reason, remaining, hold_expires_at, replayed (0|1)] per order, in order.
-- Orders in and answers out as one JSON string each: the client's cost per reply element was most of the call's.
-- The order hash is the dedupe marker: only an absent or QUEUED order is acted on; any other status is
-- returned unchanged, so a redelivered message changes nothing.
if #ARGV ~= 9 then
  return redis.error_reply('ERR expected 9 arguments')
end
local decoded, orders = pcall(cjson.decode, ARGV[9])
if not decoded or type(orders) ~= 'table' or #orders < 1 then
  return redis.error_reply('ERR ARGV[9] must be a non-empty JSON array of orders')
end
-- every order is checked before anything is written: an error leaves no order half done
for i = 1, #orders do
  local o = orders[i]
  if type(o) ~= 'table' or type(o[1]) ~= 'string' or type(o[2]) ~= 'string' or type(o[4]) ~= 'string'
    or type(o[5]) ~= 'string' then
    return redis.error_reply('ERR order ' .. i .. ' must be [order id, user id, quantity, correlation id, request id]')
  end
  local qty = tonumber(o[3])
  if qty == nil or qty < 1 or qty ~= math.floor(qty) then
    return redis.error_reply('ERR quantity must be a positive integer')
  end
end
local now = ARGV[1]
local meta = redis.call('HMGET', KEYS[2], 'initial', 'per_user_limit')
local limit = tonumber(meta[2] or '0')
-- Redis CPU is the limit of a batch's reserve, and most of it is the cost of each redis.call: the stock, the held
-- counter and the holds set are read once and written once per call (the script is atomic, so nobody sees the
-- difference); each order costs its record, its user's units and its status event.
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
local taken = 0
local holds = {}
local out = {}

local function reserveOne(i)
  local o = orders[i]
  local id, user, qty = o[1], o[2], tonumber(o[3])
  local okey, ukey = ARGV[7] .. id, ARGV[8] .. user
  local status = redis.call('HGET', okey, 'status')
  local function finish(st, reason, remaining, expires)
    local set = {'HSET', okey, 'status', st, 'reason', reason, 'user_id', user, 'quantity', qty,
      'correlation_id', o[4], 'request_id', o[5], 'updated_at', now}
    if expires ~= '' then
      set[#set + 1] = 'hold_expires_at'
      set[#set + 1] = expires
    end
    -- an absent record gets its created_at with the rest; a QUEUED one (the gateway's) has it already
    if not status then
      set[#set + 1] = 'created_at'
      set[#set + 1] = now
    end
    redis.call(unpack(set))
    if status then
      redis.call('HSETNX', okey, 'created_at', now)
    end
    redis.call('EXPIRE', okey, ARGV[6])
    redis.call('PUBLISH', ARGV[5], cjson.encode({order_id = id, item_id = ARGV[3], status = st}))
    return {st, reason, remaining, expires, 0}
  end
  if status and status ~= 'QUEUED' then
    local stored = redis.call('HMGET', okey, 'reason', 'hold_expires_at')
    out[i] = {status, stored[1] or '', stock, stored[2] or '', 1}
  elseif not meta[1] then
    out[i] = finish('REJECTED', 'unknown_item', 0, '')
  elseif limit > 0 and tonumber(redis.call('GET', ukey) or '0') + qty > limit then
    out[i] = finish('LIMIT_EXCEEDED', 'per_user_limit', stock, '')
  elseif stock < qty then
    out[i] = finish('SOLD_OUT', stock == 0 and 'sold_out' or 'insufficient_stock', stock, '')
  else
    stock = stock - qty
    taken = taken + qty
    local expires = tonumber(now) + tonumber(ARGV[2])
    holds[#holds + 1] = expires
    holds[#holds + 1] = id
    redis.call('INCRBY', ukey, qty)
    redis.call('EXPIRE', ukey, ARGV[6])
    if stock == 0 then
      redis.call('PUBLISH', ARGV[4], cjson.encode({event = 'sold_out', item_id = ARGV[3], remaining = 0}))
    end
    out[i] = finish('RESERVED', '', stock, tostring(expires))
  end
end

-- an error half way (a key of the wrong type) still leaves every order before it whole: the stock, held counter and
-- holds set get what those orders took before the error goes back to the caller
local ok, err = pcall(function()
  for i = 1, #orders do
    reserveOne(i)
  end
end)
if taken > 0 then
  redis.call('DECRBY', KEYS[1], taken)
  redis.call('HINCRBY', KEYS[2], 'held', taken)
  redis.call('ZADD', KEYS[3], unpack(holds))
end
if not ok then
  error(err)
end
return cjson.encode(out)
