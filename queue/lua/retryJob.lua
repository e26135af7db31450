-- retryJob: put a failed active job straight back into wait (or
-- prioritized) for another attempt (protocol §9.10, no backoff). Written
-- for this project from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix  ARGV[2] job id  ARGV[3] now (ms)  ARGV[4] lock token
-- ARGV[5] lifo "1"/"0"  ARGV[6] failedReason  ARGV[7] stacktrace JSON
-- Returns 0, or -1 job missing, -2 lock missing, -6 lock mismatch, -3 not
-- active.
--@include "common"
--@include "worker"

local prefix = ARGV[1]
local jobId = ARGV[2]
local now = tonumber(ARGV[3])
local token = ARGV[4]
local jobKey = prefix .. jobId

promoteDelayed(Q, prefix, now)
local rc = leaveActive(jobKey, jobId, token, -1)
if rc ~= 0 then
  return rc
end
local maxEv = maxEvents(Q.meta)
redis.call('HSET', jobKey, 'failedReason', ARGV[6], 'stacktrace', ARGV[7])
local priority = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
local pm = pausedOrMaxed(Q.meta, Q.active)
enqueueReady(Q.wait, Q.prioritized, Q.pc, Q.marker, jobId, priority, ARGV[5] == '1', pm)
redis.call('HINCRBY', jobKey, 'atm', 1)
emit(Q.events, maxEv, 'waiting', 'jobId', jobId, 'prev', 'active')
return 0
