-- Store the final answer of a claimed idempotency key for replay.
-- KEYS[1] idempotency hash
-- ARGV[1] order id (must be the claimer's), ARGV[2] status code, ARGV[3] response body, ARGV[4] ttl ms
-- Returns 1 when stored, 0 when the key is not (or no longer) this request's pending claim.
local cur = redis.call('HMGET', KEYS[1], 'state', 'order_id')
if cur[1] ~= 'pending' or cur[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'code', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
