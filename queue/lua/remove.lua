-- remove: delete one job that no worker holds (Queue.Remove, Job.Remove;
-- no flows), with the checks and the event Node's job.remove() makes.
-- Written for this project from the protocol text.
--
-- KEYS[1] completed  KEYS[2] waiting-children  KEYS[3] delayed  KEYS[4] failed
-- KEYS[5] prioritized  KEYS[6] wait  KEYS[7] paused  KEYS[8] active
-- KEYS[9] events  KEYS[10] meta  KEYS[11] repeat
-- ARGV[1] key prefix "P:N:"  ARGV[2] job id
-- Returns 1 removed, 0 locked (a worker is running it), -1 not found,
-- -8 the current iteration of a job scheduler (the one the scheduler's
-- score points at; older iterations can be removed), 2 part of a flow
-- (parent or child).

local id = ARGV[2]
local jobKey = ARGV[1] .. id
local f = redis.call('HMGET', jobKey, 'parentKey', 'rjk', 'deid')
if f[2] then
  -- The scheduler's next run is the job "repeat:<scheduler id>:<score>".
  local millis = redis.call('ZSCORE', KEYS[11], f[2])
  if millis and id == 'repeat:' .. f[2] .. ':' .. millis then
    return -8
  end
end
if redis.call('EXISTS', jobKey .. ':lock') == 1 then
  return 0
end
if f[1] or redis.call('EXISTS', jobKey .. ':dependencies') == 1 then
  return 2
end
-- prev is the name of the state the job left, as the `removed` event
-- carries it ("wait", "delayed", …), or "unknown".
local states = {'completed', 'waiting-children', 'delayed', 'failed', 'prioritized', 'wait', 'paused', 'active'}
local prev = 'unknown'
for i = 1, 5 do
  if redis.call('ZREM', KEYS[i], id) == 1 then
    prev = states[i]
    break
  end
end
if prev == 'unknown' then
  for i = 6, 8 do
    if redis.call('LREM', KEYS[i], 0, id) > 0 then
      prev = states[i]
      break
    end
  end
end
if f[3] then
  -- The deduplication key and its pending next job go with the job that
  -- owns them.
  local deKey = ARGV[1] .. 'de:' .. f[3]
  if redis.call('GET', deKey) == id then
    redis.call('DEL', deKey, ARGV[1] .. 'dn:' .. f[3])
  end
end
local n = redis.call('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies',
  jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')
if n == 0 then
  if prev == 'unknown' then
    return -1
  end
  -- An id without a hash left a state: nothing removed to announce.
  return 1
end
-- As Node does when it writes this event, a queue without meta gets the
-- default events bound stored.
local maxLen = redis.call('HGET', KEYS[10], 'opts.maxLenEvents')
if not maxLen then
  maxLen = 10000
  redis.call('HSET', KEYS[10], 'opts.maxLenEvents', maxLen)
end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', maxLen, '*', 'event', 'removed', 'jobId', id, 'prev', prev)
return 1
