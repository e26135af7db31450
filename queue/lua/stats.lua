-- stats: one queue's health in one call (Queue.Stats). Only reads.
-- KEYS[1] meta (routes the call to the queue's node; the other keys are
--   built from the prefix, all in the queue's slot)
-- ARGV[1] key base "P:N:"  ARGV[2] most active jobs to inspect for a lock
-- ARGV[3] most lockless active ids to return
-- Returns {wait, active, delayed, prioritized, completed, failed,
--   waiting-children, paused-list, paused (0/1), timestamp of the job next
--   in wait ("" when none), active without lock, active inspected,
--   {lockless ids…}}.
-- A legacy v5 marker ("0:…") at the tail of wait is not counted as a job
-- (GetJobCounts removes it; stats leaves the data alone).
-- Cost: O(1) per count plus O(ARGV[2]) EXISTS for the lock check.
local base = ARGV[1]
local wait = base .. 'wait'
local nwait = redis.call('LLEN', wait)
local nextId = redis.call('LINDEX', wait, -1)
if nextId and string.sub(nextId, 1, 2) == '0:' then
  nwait = nwait - 1
  nextId = nil
  if nwait > 0 then
    nextId = redis.call('LINDEX', wait, -2)
  end
end
local out = {
  nwait, redis.call('LLEN', base .. 'active'),
  redis.call('ZCARD', base .. 'delayed'), redis.call('ZCARD', base .. 'prioritized'),
  redis.call('ZCARD', base .. 'completed'), redis.call('ZCARD', base .. 'failed'),
  redis.call('ZCARD', base .. 'waiting-children'), redis.call('LLEN', base .. 'paused'),
  redis.call('HEXISTS', KEYS[1], 'paused'),
}
local oldest = ''
if nextId then
  oldest = redis.call('HGET', base .. nextId, 'timestamp') or ''
end
out[10] = oldest
local ids = redis.call('LRANGE', base .. 'active', 0, tonumber(ARGV[2]) - 1)
local nolock, listed = 0, {}
local maxListed = tonumber(ARGV[3])
for _, id in ipairs(ids) do
  if redis.call('EXISTS', base .. id .. ':lock') == 0 then
    nolock = nolock + 1
    if #listed < maxListed then
      listed[#listed + 1] = id
    end
  end
end
out[11] = nolock
out[12] = #ids
out[13] = listed
return out
