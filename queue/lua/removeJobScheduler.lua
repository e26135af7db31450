-- removeJobScheduler: remove a job scheduler and its pending iteration
-- (protocol §9.19). Written for this project from the protocol text.
--
-- KEYS[1] meta (for Cluster routing).
-- ARGV[1] key prefix "P:N:"   ARGV[2] scheduler id
-- Returns 1 when the scheduler existed, 0 otherwise. Only an iteration
-- still delayed is removed (event `removed` prev=`delayed`); one waiting,
-- active or finished stays.
--@include "common"

local prefix, sid = ARGV[1], ARGV[2]
local kRepeat, kDelayed = prefix .. 'repeat', prefix .. 'delayed'
local millis = redis.call('ZSCORE', kRepeat, sid)
if millis then
  local id = 'repeat:' .. sid .. ':' .. string.format('%d', tonumber(millis))
  if redis.call('ZREM', kDelayed, id) == 1 then
    removeJobKeys(prefix .. id)
    emit(prefix .. 'events', nil, 'removed', 'jobId', id, 'prev', 'delayed')
  end
end
if redis.call('ZREM', kRepeat, sid) == 1 then
  redis.call('DEL', kRepeat .. ':' .. sid)
  return 1
end
return 0
