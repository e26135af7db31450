-- moveToWait: hand an active job back untouched, at the front of its
-- queue (protocol §9.11). Used when a worker shuts down while a job runs,
-- so the job is not left to the stalled check, and when a handler returns
-- RateLimitError. `atm` does not change. Written for this project from the
-- protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix  ARGV[2] job id  ARGV[3] lock token
-- Returns the limiter's PTTL in ms (0 when it has none), or -1 job missing, -2 lock missing, -6 lock mismatch, -3 not
-- active.
--@include "common"
--@include "ready"
--@include "worker"

local prefix = ARGV[1]
local jobId = ARGV[2]
local token = ARGV[3]
local jobKey = prefix .. jobId
local rc = coldOps().leaveActive(jobKey, jobId, token, 1)
if rc ~= 0 then
  return rc
end
local maxEv = maxEvents(Q.meta)
local priority = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
if priority > 0 then
  redis.call('ZADD', prefix .. 'prioritized', priority * 4294967296, jobId)
else
  redis.call('RPUSH', Q.wait, jobId)
end
marker0(Q.marker, pausedOrMaxed(Q.meta, Q.active))
emit(Q.events, maxEv, 'waiting', 'jobId', jobId, 'prev', 'active')
local ttl = redis.call('PTTL', prefix .. 'limiter')
if ttl > 0 then
  return ttl
end
return 0
