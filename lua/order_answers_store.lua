-- The stored 202s of N orders of one item that Kafka acknowledged together (common/src/order.ts storeOrderAnswers),
-- read by lua/order_admit.lua for replays. One call per item and acknowledgement instead of one SET per order: the
-- gateway's per-command cost, not Redis's, was what one SET per order added (docs/benchmarks.md, issue 17).
-- KEYS[1] the first answer key (routes the call: every answer key is in the item's slot)
-- ARGV[1] time to live (ms), then per order: ARGV[2k] its answer key itemKeys(sale, item).answer(order id), KEYS[1]
-- among them, ARGV[2k+1] its answer '<quantity> <body>'
-- Returns the number of answers stored.
local ttl = ARGV[1]
local n = 0
for i = 2, #ARGV - 1, 2 do
  redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ttl)
  n = n + 1
end
return n
