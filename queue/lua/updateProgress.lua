-- updateProgress: store a job's progress and emit `progress` (protocol
-- §9.18). Written for this project from the protocol text.
-- KEYS[1] meta  KEYS[2] events
-- ARGV[1] key prefix  ARGV[2] job id  ARGV[3] progress JSON
-- Returns 0, or -1 when the job does not exist.
--@include "common"
local jobKey = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', jobKey) == 0 then
  return -1
end
local maxEv = maxEvents(KEYS[1])
redis.call('HSET', jobKey, 'progress', ARGV[3])
emit(KEYS[2], maxEv, 'progress', 'jobId', ARGV[2], 'data', ARGV[3])
return 0
