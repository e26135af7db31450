-- Shared functions of the admin scripts, prepended where a script says
-- --@include "common". Written for this project from the protocol text.

-- Approximate MAXLEN of the events stream (meta opts.maxLenEvents, 10000).
local function maxEvents(metaKey)
  return tonumber(redis.call('HGET', metaKey, 'opts.maxLenEvents')) or 10000
end

-- A ready job: priority 0 goes to wait (LPUSH, RPUSH when lifo), else to
-- prioritized with score priority*2^32 + (INCR pc mod 2^32).
local function enqueueReady(waitKey, prioritizedKey, pcKey, id, prio, lifo)
  if prio > 0 then
    local c = redis.call('INCR', pcKey)
    redis.call('ZADD', prioritizedKey, prio * 4294967296 + (c % 4294967296), id)
  elseif lifo then
    redis.call('RPUSH', waitKey, id)
  else
    redis.call('LPUSH', waitKey, id)
  end
end

-- Marker 0 ("ready jobs may exist") unless the queue is paused or at its
-- global concurrency.
local function markReady(markerKey, metaKey, activeKey)
  local m = redis.call('HMGET', metaKey, 'paused', 'concurrency')
  if m[1] then
    return
  end
  local c = tonumber(m[2])
  if c and redis.call('LLEN', activeKey) >= c then
    return
  end
  redis.call('ZADD', markerKey, 0, '0')
end
