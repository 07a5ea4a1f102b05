-- Settle N holds of one item, each exactly once by compare-and-set on its order: confirm a paid hold (RESERVED ->
-- CONFIRMED) or release it back to stock (RESERVED -> PAYMENT_FAILED | EXPIRED). A CONFIRMED order is never
-- restocked; a second settle is a no-op. One call per item for the holds of a batch that settled at the same moment
-- (the processor's settle), N = 1 for one (common/src/inventory.ts confirm, release). All keys share the item's hash
-- tag (one Redis Cluster slot).
-- KEYS[1] stock, KEYS[2] meta, KEYS[3] holds (zset)
-- ARGV[1] now ms, ARGV[2] item id, ARGV[3] stock channel, ARGV[4] status channel, ARGV[5] user key prefix, ARGV[6]
-- order key prefix (key = prefix .. user or order id: the item's hash tag, so the same slot; a fixed KEYS count lets
-- the client route the call by KEYS[1]), ARGV[7] the holds: a JSON array of [order id, final status (CONFIRMED |
-- PAYMENT_FAILED | EXPIRED), reason (releases)].
-- Returns a JSON array of one [status, outcome, units returned] per order, in order (one string each way: the client's
-- cost per reply element was most of the call's). A confirm's outcome is confirmed | replay (already
-- CONFIRMED) | not_reserved (another final status won, e.g. PAYMENT_FAILED) | expired (the hold's deadline passed
-- before the payment landed: the hold is released here as EXPIRED with reason paid_after_expiry, so the caller must
-- refund; also when the sweeper had expired the hold already: the reason becomes paid_after_expiry, the record of the
-- charge a refund needs). A release's outcome is released | replay | not_reserved.
if #ARGV ~= 7 then
  return redis.error_reply('ERR expected 7 arguments')
end
local decoded, holds = pcall(cjson.decode, ARGV[7])
if not decoded or type(holds) ~= 'table' or #holds < 1 then
  return redis.error_reply('ERR ARGV[7] must be a non-empty JSON array of holds')
end
-- every hold is checked before anything is written: an error leaves no hold half settled
for i = 1, #holds do
  local h = holds[i]
  if type(h) ~= 'table' or type(h[1]) ~= 'string' or type(h[3]) ~= 'string' then
    return redis.error_reply('ERR hold ' .. i .. ' must be [order id, final status, reason]')
  end
  local final = h[2]
  if final ~= 'CONFIRMED' and final ~= 'PAYMENT_FAILED' and final ~= 'EXPIRED' then
    return redis.error_reply('ERR final status must be CONFIRMED, PAYMENT_FAILED or EXPIRED')
  end
end
local now = ARGV[1]

-- As in inventory_reserve.lua, Redis CPU goes mostly to the redis.call count: the stock, the item's counters and the
-- holds set are written once per call with what its holds changed (the script is atomic); each hold costs one read,
-- its record, its user's units (a release) and its events.
local stock -- read on the first give-back (restock events need the level before it)
local backToStock = 0
local delta = {held = 0, confirmed = 0, released = 0, expired = 0}
local settled = {}

-- units back to stock: the item's counters, the user's units, and a restock event when the item had sold out
local function giveBack(okey, id, qty, user, counter, final, reason)
  settled[#settled + 1] = id
  stock = stock or tonumber(redis.call('GET', KEYS[1]) or '0')
  local before = stock
  stock = stock + qty
  backToStock = backToStock + qty
  delta.held = delta.held - qty
  delta[counter] = delta[counter] + qty
  if user then
    local left = redis.call('DECRBY', ARGV[5] .. user, qty)
    if left <= 0 then redis.call('DEL', ARGV[5] .. user) end
  end
  redis.call('HSET', okey, 'status', final, 'reason', reason, 'updated_at', now)
  return before
end

local function confirm(okey, id)
  local o = redis.call('HMGET', okey, 'status', 'quantity', 'user_id', 'hold_expires_at')
  local st = o[1]
  if st == 'CONFIRMED' then
    return {st, 'replay', 0}
  end
  if st == 'EXPIRED' then
    redis.call('HSET', okey, 'reason', 'paid_after_expiry', 'updated_at', now)
    return {st, 'expired', 0}
  end
  if st ~= 'RESERVED' then
    return {st or 'UNKNOWN', 'not_reserved', 0}
  end
  local qty = tonumber(o[2] or '0')
  local deadline = tonumber(o[4] or '0')
  if deadline > 0 and tonumber(now) > deadline then
    local before = giveBack(okey, id, qty, o[3], 'expired', 'EXPIRED', 'paid_after_expiry')
    if before == 0 then
      redis.call('PUBLISH', ARGV[3], cjson.encode({event = 'restocked', item_id = ARGV[2], remaining = qty}))
    end
    redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = id, item_id = ARGV[2], status = 'EXPIRED'}))
    return {'EXPIRED', 'expired', 0}
  end
  settled[#settled + 1] = id
  delta.held = delta.held - qty
  delta.confirmed = delta.confirmed + qty
  redis.call('HSET', okey, 'status', 'CONFIRMED', 'reason', '', 'updated_at', now)
  redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = id, item_id = ARGV[2], status = 'CONFIRMED'}))
  return {'CONFIRMED', 'confirmed', 0}
end

local function release(okey, id, final, reason)
  local o = redis.call('HMGET', okey, 'status', 'quantity', 'user_id')
  local st = o[1]
  if st == final then
    return {st, 'replay', 0}
  end
  if st ~= 'RESERVED' then
    return {st or 'UNKNOWN', 'not_reserved', 0}
  end
  local qty = tonumber(o[2] or '0')
  local before = giveBack(okey, id, qty, o[3], final == 'EXPIRED' and 'expired' or 'released', final, reason)
  if before == 0 and qty > 0 then
    redis.call('PUBLISH', ARGV[3], cjson.encode({event = 'restocked', item_id = ARGV[2], remaining = qty}))
  end
  redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = id, item_id = ARGV[2], status = final}))
  return {final, 'released', qty}
end

local out = {}
-- an error half way (a key of the wrong type) still leaves every hold before it whole: the stock, counters and holds
-- set get what those holds changed before the error goes back to the caller
local ok, err = pcall(function()
  for i = 1, #holds do
    local h = holds[i]
    local okey = ARGV[6] .. h[1]
    if h[2] == 'CONFIRMED' then
      out[i] = confirm(okey, h[1])
    else
      out[i] = release(okey, h[1], h[2], h[3])
    end
  end
end)
if #settled > 0 then
  redis.call('ZREM', KEYS[3], unpack(settled))
end
if backToStock > 0 then
  redis.call('INCRBY', KEYS[1], backToStock)
end
for _, counter in ipairs({'held', 'confirmed', 'released', 'expired'}) do
  if delta[counter] ~= 0 then
    redis.call('HINCRBY', KEYS[2], counter, delta[counter])
  end
end
if not ok then
  error(err)
end
return cjson.encode(out)
