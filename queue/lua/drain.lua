-- drain: hard-remove the jobs of one ready (or delayed) state, as BullMQ's
-- queue.drain (protocol §9.16): each job is detached from its parent (a
-- parent of this queue left without dependencies is deleted, one of
-- another queue goes to its wait), its dedup key released and its keys
-- deleted; the current iterations of job schedulers stay. No events.
-- Written for this project from the protocol text.
--
-- KEYS[1] meta (routes the call to the queue's slot)
-- ARGV[1] key prefix "P:N:"  ARGV[2] state key suffix (wait, paused,
-- delayed, prioritized)  ARGV[3] batch size
-- Returns how many jobs were removed (the caller repeats until 0).
--@include "common"
--@include "removal"

local prefix = ARGV[1]
local key = prefix .. ARGV[2]
local isList = ARGV[2] == 'wait' or ARGV[2] == 'paused'
-- The window holds count ids plus at most one kept iteration per
-- scheduler, so every call removes count ids while that many remain.
local count = tonumber(ARGV[3]) + redis.call('ZCARD', prefix .. 'repeat')
local ids
if isList then
  ids = redis.call('LRANGE', key, 0, count - 1)
else
  ids = redis.call('ZRANGE', key, 0, count - 1)
end
local removed, kept = {}, {}
for _, id in ipairs(ids) do
  if isCurrentIteration(prefix, id) then
    kept[#kept + 1] = id
  else
    removeJobHard(prefix, id)
    removed[#removed + 1] = id
  end
end
if isList then
  redis.call('LTRIM', key, #ids, -1)
  for i = #kept, 1, -1 do
    redis.call('LPUSH', key, kept[i])
  end
else
  for i = 1, #removed, 5000 do
    redis.call('ZREM', key, unpack(removed, i, math.min(i + 4999, #removed)))
  end
end
return #removed
