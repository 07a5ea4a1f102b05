-- Free a pending idempotency key (the request was refused, e.g. broker unavailable) so the client can retry.
-- KEYS[1] idempotency hash
-- ARGV[1] order id (must be the claimer's)
-- Returns 1 when freed, else 0.
local cur = redis.call('HMGET', KEYS[1], 'state', 'order_id')
if cur[1] == 'pending' and cur[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
