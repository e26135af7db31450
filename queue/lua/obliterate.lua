-- obliterate: delete a paused queue and its jobs, up to `count` jobs per
-- call, as BullMQ's queue.obliterate (protocol §9.16): active jobs (and
-- their locks; refused without force), delayed, the job schedulers and
-- their hashes, completed, wait, legacy paused, prioritized, failed; once
-- the budget is not used up, the queue's own keys (events, stalled,
-- stalled-check, id, pc, marker, meta, metrics, legacy delay). As BullMQ,
-- it leaves waiting-children and limiter alone. Jobs are removed hard
-- (detached from parents, dedup keys released). Written for this project
-- from the protocol text.
--
-- KEYS[1] meta
-- ARGV[1] key prefix "P:N:"  ARGV[2] count (> 0)  ARGV[3] force "1"/"0"
-- Returns 0 done, 1 call again, 2 refused: active jobs and no force,
-- 3 refused: the queue is not paused.
--@include "common"
--@include "removal"

local prefix = ARGV[1]
local budget = tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'paused') ~= 1 then
  return 3
end

local active = redis.call('LRANGE', prefix .. 'active', 0, budget - 1)
if #active > 0 and ARGV[3] ~= '1' then
  return 2
end
for _, id in ipairs(active) do
  redis.call('DEL', prefix .. id .. ':lock')
  removeJobHard(prefix, id)
end
redis.call('LTRIM', prefix .. 'active', #active, -1)
budget = budget - #active
if budget <= 0 then
  return 1
end

-- Remove up to budget jobs of a zset or list state; returns the budget left.
local function removeState(suffix, isList)
  local key = prefix .. suffix
  local ids
  if isList then
    ids = redis.call('LRANGE', key, 0, budget - 1)
  else
    ids = redis.call('ZRANGE', key, 0, budget - 1)
  end
  for _, id in ipairs(ids) do
    removeJobHard(prefix, id)
  end
  if isList then
    redis.call('LTRIM', key, #ids, -1)
  else
    for i = 1, #ids, 5000 do
      redis.call('ZREM', key, unpack(ids, i, math.min(i + 4999, #ids)))
    end
  end
  return budget - #ids
end

budget = removeState('delayed', false)
if budget <= 0 then
  return 1
end
local schedulers = redis.call('ZRANGE', prefix .. 'repeat', 0, budget - 1)
for _, s in ipairs(schedulers) do
  redis.call('DEL', prefix .. 'repeat:' .. s)
end
for i = 1, #schedulers, 5000 do
  redis.call('ZREM', prefix .. 'repeat', unpack(schedulers, i, math.min(i + 4999, #schedulers)))
end
budget = budget - #schedulers
if budget <= 0 then
  return 1
end
for _, s in ipairs({{'completed', false}, {'wait', true}, {'paused', true}, {'prioritized', false}, {'failed', false}}) do
  budget = removeState(s[1], s[2])
  if budget <= 0 then
    return 1
  end
end
redis.call('DEL', prefix .. 'events', prefix .. 'delay', prefix .. 'stalled-check', prefix .. 'stalled',
  prefix .. 'id', prefix .. 'pc', prefix .. 'marker', KEYS[1], prefix .. 'metrics:completed',
  prefix .. 'metrics:completed:data', prefix .. 'metrics:failed', prefix .. 'metrics:failed:data')
return 0
