-- moveJobsToWait: up to ARGV[1] jobs of a state zset (failed, completed or
-- delayed) with a score ≤ ARGV[2] go to the head of wait
-- (Queue.RetryJobs, Queue.PromoteJobs). As BullMQ does, priorities are
-- not looked at and a promoted job keeps its `delay` field.
-- KEYS: key base "P:N:", events, state zset, wait, paused, meta, active,
--       marker
-- ARGV[1] count  ARGV[2] max score  ARGV[3] state name
-- Returns 1 when the batch was full (call again), else 0.
--@include "common"
--@include "ready"
local limit = tonumber(ARGV[1])
local state = ARGV[3]
local pm = pausedOrMaxed(KEYS[6], KEYS[7])
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], 0, tonumber(ARGV[2]), 'LIMIT', 0, limit)
if #ids > 0 then
  if state == 'failed' or state == 'completed' then
    local field = state == 'failed' and 'failedReason' or 'returnvalue'
    for _, id in ipairs(ids) do
      local jobKey = KEYS[1] .. id
      redis.call('HDEL', jobKey, 'finishedOn', 'processedOn', field)
      restoreDependency(jobKey, state)
    end
  end
  local maxLen = maxEvents(KEYS[6])
  for _, id in ipairs(ids) do
    emit(KEYS[2], maxLen, 'waiting', 'jobId', id, 'prev', state)
  end
  for i = 1, #ids, 7000 do
    local j = math.min(i + 6999, #ids)
    redis.call('ZREM', KEYS[3], unpack(ids, i, j))
    redis.call('LPUSH', KEYS[4], unpack(ids, i, j))
  end
  marker0(KEYS[8], pm)
end
if limit - #ids <= 0 then
  return 1
end
return 0
