-- retry: a completed or failed job runs again (Job.Retry).
-- KEYS: job hash, events, the state zset (completed/failed), wait, meta,
--       active, marker, prioritized, pc
-- ARGV[1] job id  ARGV[2] "1" lifo  ARGV[3] field to clear (failedReason
-- or returnvalue)  ARGV[4] state name  ARGV[5] "1" reset atm
-- ARGV[6] "1" reset ats
-- Returns 1, -1 the job does not exist, -3 it is not in that state.
--@include "common"
--@include "ready"
local jobKey, id = KEYS[1], ARGV[1]
if redis.call('EXISTS', jobKey) ~= 1 then
  return -1
end
if redis.call('ZREM', KEYS[3], id) ~= 1 then
  return -3
end
local clear = {'finishedOn', 'processedOn', ARGV[3]}
if ARGV[5] == '1' then clear[#clear + 1] = 'atm' end
if ARGV[6] == '1' then clear[#clear + 1] = 'ats' end
redis.call('HDEL', jobKey, unpack(clear))
local pm = pausedOrMaxed(KEYS[5], KEYS[6])
local prio = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
enqueueReady(KEYS[4], KEYS[8], KEYS[9], KEYS[7], id, prio, ARGV[2] == '1', pm)
restoreDependency(jobKey, ARGV[4])
emit(KEYS[2], maxEvents(KEYS[5]), 'waiting', 'jobId', id, 'prev', ARGV[4])
return 1
