-- stats: one queue's numbers in one call, for the admin stats endpoint.
-- Written for this project from the BullMQ key layout (protocol §2, §9.17).
--
-- KEYS[1] wait  KEYS[2] active  KEYS[3] delayed  KEYS[4] prioritized
-- KEYS[5] completed  KEYS[6] failed  KEYS[7] waiting-children  KEYS[8] paused
-- KEYS[9] meta
-- ARGV[1] key prefix "P:N:"  ARGV[2] most active jobs to inspect for a lock
-- Returns {wait, active, delayed, prioritized, completed, failed,
--   waiting-children, paused-list, paused (0/1), timestamp of the next
--   waiting job ("" when none), active without lock, active inspected}.
-- Cost: O(1) per count plus O(ARGV[2]) EXISTS for the lock check.

local out = {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]),
  redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]),
  redis.call('ZCARD', KEYS[7]), redis.call('LLEN', KEYS[8]),
  redis.call('HEXISTS', KEYS[9], 'paused'),
}
local oldest = ''
local nextId = redis.call('LINDEX', KEYS[1], -1)
if nextId then
  oldest = redis.call('HGET', ARGV[1] .. nextId, 'timestamp') or ''
end
out[10] = oldest
local ids = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
local nolock = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[1] .. id .. ':lock') == 0 then
    nolock = nolock + 1
  end
end
out[11] = nolock
out[12] = #ids
return out
