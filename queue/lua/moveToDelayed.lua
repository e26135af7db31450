-- moveToDelayed: put a failed active job back for a later attempt
-- (backoff, protocol §9.10). Written for this project from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix  ARGV[2] job id  ARGV[3] now (ms)  ARGV[4] lock token
-- ARGV[5] delay (ms)  ARGV[6] failedReason  ARGV[7] stacktrace JSON
-- Returns 0, or -1 job missing, -2 lock missing, -6 lock mismatch, -3 not
-- active.
--@include "common"
--@include "worker"

local prefix = ARGV[1]
local jobId = ARGV[2]
local now = tonumber(ARGV[3])
local token = ARGV[4]
local delay = tonumber(ARGV[5])
local jobKey = prefix .. jobId

local rc = leaveActive(jobKey, jobId, token, -1)
if rc ~= 0 then
  return rc
end
local maxEv = maxEvents(Q.meta)
redis.call('HSET', jobKey, 'failedReason', ARGV[6], 'stacktrace', ARGV[7], 'delay', delay)
redis.call('HINCRBY', jobKey, 'atm', 1)
local due = now + delay
redis.call('ZADD', Q.delayed, delayedScore(Q.delayed, due), jobId)
emit(Q.events, maxEv, 'delayed', 'jobId', jobId, 'delay', due)
marker1(Q.marker, Q.delayed)
return 0
