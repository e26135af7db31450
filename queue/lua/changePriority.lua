-- changePriority: set a job's priority; a job waiting to run (wait or
-- prioritized) is re-queued under the new priority (Job.ChangePriority).
-- KEYS: wait paused meta prioritized active pc marker
-- ARGV[1] priority  ARGV[2] key base "P:N:"  ARGV[3] job id  ARGV[4] "1" lifo
-- Returns 0, or -1 when the job does not exist.
--@include "common"
--@include "ready"
local id = ARGV[3]
local jobKey = ARGV[2] .. id
local prio = tonumber(ARGV[1])
if redis.call('EXISTS', jobKey) ~= 1 then
  return -1
end
local lifo = ARGV[4] == '1'

-- requeue puts the job back: wait for priority 0 (RPUSH when lifo); with a
-- priority, lifo goes ahead of its peers (score priority*2^32, no marker),
-- otherwise after them.
local function requeue(pm)
  if prio == 0 then
    if lifo then
      redis.call('RPUSH', KEYS[1], id)
    else
      redis.call('LPUSH', KEYS[1], id)
    end
    marker0(KEYS[7], pm)
  elseif lifo then
    redis.call('ZADD', KEYS[4], prio * 4294967296, id)
  else
    redis.call('ZADD', KEYS[4], priorityScore(KEYS[6], prio), id)
    marker0(KEYS[7], pm)
  end
end

local pm = pausedOrMaxed(KEYS[3], KEYS[5])
if redis.call('ZREM', KEYS[4], id) > 0 or redis.call('LREM', KEYS[1], -1, id) > 0 then
  requeue(pm)
end
redis.call('HSET', jobKey, 'priority', prio)
return 0
