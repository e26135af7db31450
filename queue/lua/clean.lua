-- clean: remove up to `limit` jobs of one state that are older than a
-- cutoff, as one call of BullMQ's queue.clean (protocol §9.16), and emit
-- `cleaned` with the count. Each job is removed hard (detached from its
-- parent, dedup key released, keys deleted). Written for this project
-- from the protocol text.
--
-- Age of a job: completed/failed by their score (finishedOn); delayed by
-- processedOn, else timestamp; prioritized by timestamp; wait, paused and
-- active by the first of finishedOn, processedOn, timestamp, scanning the
-- `limit` entries at the tail (the oldest). Active jobs still locked and
-- the current iterations of job schedulers are skipped.
--
-- KEYS[1] meta (routes the call to the queue's slot)
-- ARGV[1] key prefix "P:N:"  ARGV[2] state key suffix (completed, failed,
-- delayed, prioritized, wait, paused, active)  ARGV[3] cutoff (ms)
-- ARGV[4] limit (> 0)
-- Returns the removed ids.
--@include "common"
--@include "removal"

local prefix = ARGV[1]
local state = ARGV[2]
local key = prefix .. state
local cutoff = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local deleted = {}

-- The job's age reference: the first of fields that is set.
local function ageOf(id, fields)
  for _, v in ipairs(redis.call('HMGET', prefix .. id, unpack(fields))) do
    if v then
      return tonumber(v)
    end
  end
  return nil
end

if state == 'wait' or state == 'paused' or state == 'active' then
  local ids = redis.call('LRANGE', key, -limit, -1)
  local n = #ids
  for i, id in ipairs(ids) do
    if #deleted >= limit then
      break
    end
    if (state ~= 'active' or redis.call('EXISTS', prefix .. id .. ':lock') == 0)
      and not isCurrentIteration(prefix, id) then
      local ts = ageOf(id, {'finishedOn', 'processedOn', 'timestamp'})
      if not ts or ts <= cutoff then
        -- tombstone now, one LREM at the end
        redis.call('LSET', key, i - 1 - n, '')
        removeJobHard(prefix, id)
        deleted[#deleted + 1] = id
      end
    end
  end
  redis.call('LREM', key, 0, '')
else
  local finished = state == 'completed' or state == 'failed'
  local maxScore = '+inf'
  if finished then
    maxScore = ARGV[3]
  end
  local fields = {'timestamp'}
  if state == 'delayed' then
    fields = {'processedOn', 'timestamp'}
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, 0, maxScore, 'LIMIT', 0, limit)) do
    if finished then
      removeJobHard(prefix, id)
      deleted[#deleted + 1] = id
    elseif not isCurrentIteration(prefix, id) then
      local ts = ageOf(id, fields)
      if not ts or ts <= cutoff then
        removeJobHard(prefix, id)
        deleted[#deleted + 1] = id
      end
    end
  end
  for i = 1, #deleted, 5000 do
    redis.call('ZREM', key, unpack(deleted, i, math.min(i + 4999, #deleted)))
  end
end
emit(prefix .. 'events', nil, 'cleaned', 'count', #deleted)
return deleted
