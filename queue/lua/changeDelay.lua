-- changeDelay: a delayed job becomes due delay ms after now
-- (Job.ChangeDelay).
-- KEYS: delayed meta marker events
-- ARGV[1] delay ms  ARGV[2] now ms  ARGV[3] job id  ARGV[4] job hash key
-- Returns 0, -1 the job does not exist, -3 the job is not delayed.
--@include "common"
--@include "ready"
local id = ARGV[3]
local delay = tonumber(ARGV[1])
if redis.call('EXISTS', ARGV[4]) ~= 1 then
  return -1
end
local due = tonumber(ARGV[2])
if delay > 0 then
  due = due + delay
end
local score = delayedScore(KEYS[1], due)
if redis.call('ZREM', KEYS[1], id) < 1 then
  return -3
end
redis.call('HSET', ARGV[4], 'delay', delay)
redis.call('ZADD', KEYS[1], score, id)
emit(KEYS[4], maxEvents(KEYS[2]), 'delayed', 'jobId', id, 'delay', due)
marker1(KEYS[3], KEYS[1])
return 0
