-- Record a refund: compare-and-set EXPIRED (reason paid_after_expiry: charged after the hold expired, the units
-- already went back to stock) -> REFUNDED, exactly once. The status is the marker: a redelivered order finds REFUNDED
-- and is not refunded again. The order hash and the item's meta share the item's hash tag (one slot on a Cluster).
-- KEYS[1] order hash, KEYS[2] meta
-- ARGV[1] order id, ARGV[2] now ms, ARGV[3] item id, ARGV[4] status channel
-- Returns {status, outcome, units}; outcome is refunded | replay (already REFUNDED) | not_due (no refund owed).
local o = redis.call('HMGET', KEYS[1], 'status', 'reason', 'quantity')
if o[1] == 'REFUNDED' then
  return {'REFUNDED', 'replay', 0}
end
if o[1] ~= 'EXPIRED' or o[2] ~= 'paid_after_expiry' then
  return {o[1] or 'UNKNOWN', 'not_due', 0}
end
local qty = tonumber(o[3] or '0')
-- units refunded, for the audit: they consume no stock (already counted in expired)
redis.call('HINCRBY', KEYS[2], 'refunded', qty)
redis.call('HSET', KEYS[1], 'status', 'REFUNDED', 'refunded_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = ARGV[1], item_id = ARGV[3], status = 'REFUNDED'}))
return {'REFUNDED', 'refunded', qty}
