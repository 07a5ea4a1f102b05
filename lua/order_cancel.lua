-- The broker never acknowledged the order (gateway/src/orders/placement.ts): delete the QUEUED record this request
-- created, so the key is free for a retry. Only while it is still QUEUED and still this request's claim (correlation
-- id): a record the processor moved on, or another request took over, is left alone. A late write of the message
-- finds no record and is processed like any new order (the processor acts on absent or QUEUED).
-- KEYS[1] order hash
-- ARGV[1] correlation id of the claiming request
-- Returns 1 when deleted, else 0.
local o = redis.call('HMGET', KEYS[1], 'status', 'correlation_id')
if o[1] == 'QUEUED' and o[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
