-- Hot-item buckets: settle a hold in the item's home slot, exactly once. CONFIRMED keeps the units (they stay taken
-- in their bucket); PAYMENT_FAILED / EXPIRED give them back: this script settles the books of the home slot, records
-- the give-back as pending in the gives hash (order id -> bucket) and returns the bucket; inventory_bucket_give then
-- returns the units to it (idempotently) and the caller clears the pending entry. A crash in between leaves the entry:
-- the hold sweeper completes it (common/src/buckets.ts completeGives).
-- A CONFIRMED that arrives after the hold's deadline expires the hold instead (reason paid_after_expiry, outcome
-- expired: the caller refunds), as inventory_settle does for an item without buckets; a CONFIRMED of a hold the sweeper
-- expired already only records the charge (reason paid_after_expiry, outcome expired).
-- KEYS[1] meta, KEYS[2] holds (zset), KEYS[3] order hash, KEYS[4] user units, KEYS[5] pending gives (hash)
-- ARGV[1] order id, ARGV[2] final status (CONFIRMED | PAYMENT_FAILED | EXPIRED), ARGV[3] reason, ARGV[4] now ms,
-- ARGV[5] item id, ARGV[6] status channel
-- Returns {status, outcome (settled | replay | not_reserved | expired), units, bucket (-1: none)}.
local final = ARGV[2]
local reason = ARGV[3]
local o = redis.call('HMGET', KEYS[3], 'status', 'quantity', 'bucket', 'hold_expires_at')
local bucket = tonumber(o[3] or '-1')
if o[1] == final then
  return {final, 'replay', 0, bucket}
end
if final == 'CONFIRMED' and o[1] == 'EXPIRED' then
  -- the sweeper expired the hold before the payment landed: record the charge (the refund's marker), nothing else
  redis.call('HSET', KEYS[3], 'reason', 'paid_after_expiry', 'updated_at', ARGV[4])
  return {'EXPIRED', 'expired', 0, bucket}
end
if o[1] ~= 'RESERVED' then
  return {o[1] or 'UNKNOWN', 'not_reserved', 0, bucket}
end
local outcome = 'settled'
local deadline = tonumber(o[4] or '0')
if final == 'CONFIRMED' and deadline > 0 and tonumber(ARGV[4]) > deadline then
  final = 'EXPIRED'
  reason = 'paid_after_expiry'
  outcome = 'expired'
end
local qty = tonumber(o[2] or '0')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'held', -qty)
if final == 'CONFIRMED' then
  redis.call('HINCRBY', KEYS[1], 'confirmed', qty)
else
  redis.call('HINCRBY', KEYS[1], final == 'EXPIRED' and 'expired' or 'released', qty)
  local left = redis.call('DECRBY', KEYS[4], qty)
  if left <= 0 then redis.call('DEL', KEYS[4]) end
  if bucket >= 0 then redis.call('HSET', KEYS[5], ARGV[1], bucket) end
end
redis.call('HSET', KEYS[3], 'status', final, 'reason', reason, 'updated_at', ARGV[4])
redis.call('PUBLISH', ARGV[6], cjson.encode({order_id = ARGV[1], item_id = ARGV[5], status = final}))
return {final, outcome, qty, bucket}
