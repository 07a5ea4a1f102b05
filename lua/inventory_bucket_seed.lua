-- Hot-item buckets: the books of a seed, restock or reduction in the item's home slot (common/src/buckets.ts
-- seedBuckets). A change of the units is a journaled operation: `begin` books it and records it in the meta
-- (seed_op, seed_delta), the caller then moves the units into or out of each bucket with inventory_bucket_adjust
-- (idempotent per operation and bucket), and `commit` closes it. A caller that finds an operation still open (a crash
-- in the middle) completes it first, so the units and the books always meet.
-- Order of effects (never oversell, even after a crash): a seed or restock is booked (initial) before its units reach
-- the buckets; a reduction's units leave the buckets before `commit` books it.
-- KEYS[1] meta
-- ARGV[1] mode: begin | commit, ARGV[2] total units wanted, ARGV[3] K, ARGV[4] per-user limit, ARGV[5] now ms,
-- ARGV[6] operation id, ARGV[7] (commit) units applied: < 0 for a reduction (booked now), 0 otherwise
-- begin returns {outcome, op id, delta, K held, initial before}: outcome seeded | restocked | reduced | unchanged |
-- pending (an open operation: complete it, then begin again) | k_mismatch (the item holds another K).
-- commit returns {done | gone, initial}.
local mode = ARGV[1]
if mode == 'commit' then
  local op = redis.call('HGET', KEYS[1], 'seed_op')
  if op ~= ARGV[6] then
    return {'gone', tonumber(redis.call('HGET', KEYS[1], 'initial') or '0')}
  end
  local applied = tonumber(ARGV[7])
  if applied < 0 then
    redis.call('HINCRBY', KEYS[1], 'initial', applied)
    redis.call('HINCRBY', KEYS[1], 'reduced', -applied)
  end
  redis.call('HDEL', KEYS[1], 'seed_op', 'seed_delta')
  return {'done', tonumber(redis.call('HGET', KEYS[1], 'initial') or '0')}
end
local total = tonumber(ARGV[2])
local k = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
if total == nil or total < 0 or limit == nil or limit < 0 or k == nil or k < 1 then
  return redis.error_reply('ERR total, K and limit must be non-negative integers (K >= 1)')
end
local m = redis.call('HMGET', KEYS[1], 'initial', 'buckets', 'seed_op', 'seed_delta')
if m[3] then
  return {'pending', m[3], tonumber(m[4] or '0'), tonumber(m[2] or '1'), tonumber(m[1] or '0')}
end
local initial = tonumber(m[1])
if initial == nil then
  redis.call('HSET', KEYS[1], 'initial', total, 'confirmed', 0, 'held', 0, 'released', 0, 'expired', 0,
    'restocked', 0, 'reduced', 0, 'per_user_limit', limit, 'seeded_at', ARGV[5], 'buckets', k)
  if total > 0 then
    redis.call('HSET', KEYS[1], 'seed_op', ARGV[6], 'seed_delta', total)
  end
  return {'seeded', ARGV[6], total, k, 0}
end
local held = tonumber(m[2] or '1')
if held ~= k then
  return {'k_mismatch', '', 0, held, initial}
end
redis.call('HSET', KEYS[1], 'per_user_limit', limit)
local delta = total - initial
if delta == 0 then
  return {'unchanged', '', 0, k, initial}
end
if delta > 0 then
  redis.call('HINCRBY', KEYS[1], 'initial', delta)
  redis.call('HINCRBY', KEYS[1], 'restocked', delta)
end
redis.call('HSET', KEYS[1], 'seed_op', ARGV[6], 'seed_delta', delta)
return {delta > 0 and 'restocked' or 'reduced', ARGV[6], delta, k, initial}
