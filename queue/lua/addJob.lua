-- addJob: store one job and make it ready, delayed or prioritized
-- (protocol §9.1–9.4). Written for this project from the protocol text.
--
-- KEYS[1] wait      KEYS[2] meta        KEYS[3] id       KEYS[4] delayed
-- KEYS[5] prioritized KEYS[6] pc        KEYS[7] marker   KEYS[8] events
-- KEYS[9] active
-- ARGV[1] key prefix "P:N:"   ARGV[2] custom id or ""   ARGV[3] name
-- ARGV[4] timestamp (ms)      ARGV[5] data JSON         ARGV[6] opts JSON
-- ARGV[7] delay (ms)          ARGV[8] priority          ARGV[9] lifo "1"/"0"
-- Returns {jobId, 0} for a stored job, {jobId, 1} when the custom id existed
-- (nothing changed; a `duplicated` event was written).
--@include "common"

local counter = redis.call('INCR', KEYS[3])
local maxEv = maxEvents(KEYS[2])
local prefix = ARGV[1]
local jobId = ARGV[2]
if jobId == '' then
  jobId = tostring(counter)
end
local jobKey = prefix .. jobId

if ARGV[2] ~= '' and redis.call('EXISTS', jobKey) == 1 then
  emit(KEYS[8], maxEv, 'duplicated', 'jobId', jobId)
  return {jobId, 1}
end

local timestamp = tonumber(ARGV[4])
local delay = tonumber(ARGV[7])
local priority = tonumber(ARGV[8])

redis.call('HSET', jobKey, 'name', ARGV[3], 'data', ARGV[5], 'opts', ARGV[6],
  'timestamp', ARGV[4], 'delay', ARGV[7], 'priority', ARGV[8])
emit(KEYS[8], nil, 'added', 'jobId', jobId, 'name', ARGV[3])

if delay > 0 then
  local due = timestamp + delay
  redis.call('ZADD', KEYS[4], delayedScore(KEYS[4], due), jobId)
  emit(KEYS[8], maxEv, 'delayed', 'jobId', jobId, 'delay', due)
  marker1(KEYS[7], KEYS[4])
else
  local pm = pausedOrMaxed(KEYS[2], KEYS[9])
  enqueueReady(KEYS[1], KEYS[5], KEYS[6], KEYS[7], jobId, priority, ARGV[9] == '1', pm)
  emit(KEYS[8], maxEv, 'waiting', 'jobId', jobId)
end
return {jobId, 0}
