-- promote: move one delayed job to wait/prioritized now (protocol §9.14).
-- Written for this project from the protocol text.
--
-- KEYS[1] delayed  KEYS[2] wait  KEYS[3] prioritized  KEYS[4] pc
-- KEYS[5] marker   KEYS[6] events  KEYS[7] meta  KEYS[8] active
-- ARGV[1] key prefix "P:N:"  ARGV[2] job id
-- Returns 1, or -3 when the job is not delayed.
--@include "common"

local id = ARGV[2]
if redis.call('ZREM', KEYS[1], id) == 0 then
  return -3
end
local jobKey = ARGV[1] .. id
local prio = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
enqueueReady(KEYS[2], KEYS[3], KEYS[4], id, prio, false)
markReady(KEYS[5], KEYS[7], KEYS[8])
redis.call('XADD', KEYS[6], '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
redis.call('HSET', jobKey, 'delay', 0)
return 1
