-- Claim an idempotency key (one per user and key) or report what it holds.
-- KEYS[1] idempotency hash {state, fp, order_id, code, body}
-- ARGV[1] request fingerprint, ARGV[2] order id, ARGV[3] pending ttl ms (a crashed gateway frees the key)
-- Returns {'new'} | {'mismatch', order_id} | {'inflight', order_id} | {'done', order_id, code, body}
local cur = redis.call('HMGET', KEYS[1], 'state', 'fp', 'order_id', 'code', 'body')
if not cur[1] then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'fp', ARGV[1], 'order_id', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'new'}
end
if cur[2] ~= ARGV[1] then
  return {'mismatch', cur[3] or ''}
end
if cur[1] == 'pending' then
  return {'inflight', cur[3] or ''}
end
return {'done', cur[3] or '', cur[4] or '', cur[5] or ''}
