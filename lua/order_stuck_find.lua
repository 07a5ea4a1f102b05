-- The stuck-order sweeper's read (processor/src/stuck-orders.ts): of N order hashes of one item, the ones still QUEUED
-- and last sent before a time. Nearly every order is final, so reading the statuses here instead of one reply per
-- order keeps a sweep over a whole sale cheap for the processor.
-- KEYS[1] the first of the order hashes (routes the call: every hash is in the item's slot)
-- ARGV[1] before (ms), ARGV[2..] the order hashes itemKeys(sale, item).order(order id), KEYS[1] among them
-- Returns a flat list: per stuck order its key, then the fields below in this order.
local fields = {'status', 'user_id', 'quantity', 'request_id', 'correlation_id', 'created_at', 'updated_at',
  'republished', 'republished_at'}
local before = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  if redis.call('HGET', ARGV[i], 'status') == 'QUEUED' then
    local v = redis.call('HMGET', ARGV[i], unpack(fields))
    local sent = math.max(tonumber(v[7]) or 0, tonumber(v[9]) or 0)
    if sent > 0 and sent < before then
      out[#out + 1] = ARGV[i]
      for j = 1, #fields do
        out[#out + 1] = v[j] or false
      end
    end
  end
end
return out
