-- remove: delete one job that no worker holds (protocol §9.15, without
-- flows). Written for this project from the protocol text.
--
-- KEYS[1] completed  KEYS[2] waiting-children  KEYS[3] delayed  KEYS[4] failed
-- KEYS[5] prioritized  KEYS[6] wait  KEYS[7] paused  KEYS[8] active
-- KEYS[9] events  KEYS[10] meta
-- ARGV[1] key prefix "P:N:"  ARGV[2] job id
-- Returns 1 removed, 0 locked (a worker is running it), -1 not found,
-- -20 part of a flow (parent or child), -8 scheduler iteration.
--@include "common"

local id = ARGV[2]
local jobKey = ARGV[1] .. id
if redis.call('EXISTS', jobKey .. ':lock') == 1 then
  return 0
end
local f = redis.call('HMGET', jobKey, 'parentKey', 'rjk', 'deid')
if f[1] or redis.call('EXISTS', jobKey .. ':dependencies') == 1 then
  return -20
end
if f[2] then
  return -8
end
local prev = 'unknown'
local zsets = {1, 2, 3, 4, 5}
for _, i in ipairs(zsets) do
  if redis.call('ZREM', KEYS[i], id) == 1 then
    prev = KEYS[i]
    break
  end
end
if prev == 'unknown' then
  for _, i in ipairs({6, 7, 8}) do
    if redis.call('LREM', KEYS[i], 0, id) > 0 then
      prev = KEYS[i]
      break
    end
  end
end
if f[3] then
  local deKey = ARGV[1] .. 'de:' .. f[3]
  if redis.call('GET', deKey) == id then
    redis.call('DEL', deKey)
  end
end
local n = redis.call('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies',
  jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')
if n == 0 and prev == 'unknown' then
  return -1
end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', maxEvents(KEYS[10]), '*', 'event', 'removed', 'jobId', id, 'prev', prev)
return 1
