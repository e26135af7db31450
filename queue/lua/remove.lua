-- remove: delete a job that no worker holds, with its flow bookkeeping,
-- as BullMQ's job.remove({removeChildren}) (protocol §9.15). Written for
-- this project from the protocol text.
--
-- KEYS[1] meta (routes the call to the queue's slot)
-- ARGV[1] key prefix "P:N:"  ARGV[2] job id  ARGV[3] remove children "1"/"0"
-- Returns 1 removed, 0 locked (the job, or with children a pending
-- descendant, is held by a worker), -1 nothing to remove, -8 the current
-- iteration of a job scheduler (older iterations can be removed).
--@include "common"
--@include "removal"

local prefix = ARGV[1]
local id = ARGV[2]
local withChildren = ARGV[3] == '1'
if isCurrentIteration(prefix, id) then
  return -8
end
if treeLocked(prefix, id, withChildren, 0) then
  return 0
end
local n, prev = removeWithChildren(prefix, id, nil, withChildren, 0)
if n == 0 and prev == 'unknown' then
  return -1
end
return 1
