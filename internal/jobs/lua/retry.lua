-- retry: move one finished job (completed or failed) back to wait or
-- prioritized, as Node's Job.retry does (protocol §9.16). Written for this
-- project from the protocol text. Flow children are refused (-20): moving
-- them back into their parent's dependencies is not implemented.
--
-- KEYS[1] state zset (completed/failed)  KEYS[2] wait  KEYS[3] prioritized
-- KEYS[4] pc  KEYS[5] marker  KEYS[6] events  KEYS[7] meta  KEYS[8] active
-- ARGV[1] key prefix "P:N:"  ARGV[2] job id  ARGV[3] state name
-- ARGV[4] "1" to reset attemptsMade and attemptsStarted
-- Returns 1, -1 job missing, -3 not in that state, -20 flow child.
--@include "common"

local id = ARGV[2]
local jobKey = ARGV[1] .. id
if redis.call('EXISTS', jobKey) == 0 then
  return -1
end
if redis.call('HEXISTS', jobKey, 'parentKey') == 1 then
  return -20
end
if redis.call('ZREM', KEYS[1], id) == 0 then
  return -3
end
redis.call('HDEL', jobKey, 'finishedOn', 'processedOn', 'returnvalue', 'failedReason')
if ARGV[4] == '1' then
  redis.call('HDEL', jobKey, 'atm', 'ats', 'attemptsMade')
end
local prio = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
local lifo = false
local opts = redis.call('HGET', jobKey, 'opts')
if opts then
  local ok, o = pcall(cjson.decode, opts)
  lifo = ok and type(o) == 'table' and o['lifo'] == true
end
enqueueReady(KEYS[2], KEYS[3], KEYS[4], id, prio, lifo)
markReady(KEYS[5], KEYS[7], KEYS[8])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxEvents(KEYS[7]), '*', 'event', 'waiting', 'jobId', id, 'prev', ARGV[3])
return 1
