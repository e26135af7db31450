-- promote: a delayed job becomes ready now (Job.Promote).
-- KEYS: delayed wait paused meta prioritized active pc events marker
-- ARGV[1] key base "P:N:"  ARGV[2] job id
-- Returns 0, or -3 when the job is not delayed.
--@include "common"
--@include "ready"
local id = ARGV[2]
if redis.call('ZREM', KEYS[1], id) ~= 1 then
  return -3
end
local jobKey = ARGV[1] .. id
local prio = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
local pm = pausedOrMaxed(KEYS[4], KEYS[6])
-- A legacy "0:…" marker at the head of wait goes first.
local head = redis.call('LINDEX', KEYS[2], 0)
if head and string.sub(head, 1, 2) == '0:' then
  redis.call('LPOP', KEYS[2])
end
enqueueReady(KEYS[2], KEYS[5], KEYS[7], KEYS[9], id, prio, false, pm)
emit(KEYS[8], nil, 'waiting', 'jobId', id, 'prev', 'delayed')
redis.call('HSET', jobKey, 'delay', 0)
return 0
