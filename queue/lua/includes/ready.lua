-- Putting jobs where workers find them (protocol §7, §9 sub-steps): the
-- paused/maxed test, the markers, delayed and prioritized scores, ready
-- enqueueing. Written for this project from the protocol text. Needs the
-- "common" include first. The worker scripts include this inside their
-- cold builder (see worker.lua), where its functions are built only when
-- a call needs them; other scripts (and includes) include it at the top.

-- PM: the queue is paused, or at its global concurrency.
local function pausedOrMaxed(metaKey, activeKey)
  local v = redis.call('HMGET', metaKey, 'paused', 'concurrency')
  if v[1] then
    return true
  end
  if v[2] then
    local c = tonumber(v[2])
    if c and redis.call('LLEN', activeKey) >= c then
      return true
    end
  end
  return false
end

-- MARK0: "ready jobs may exist", unless paused or maxed.
local function marker0(markerKey, pm)
  if not pm then
    redis.call('ZADD', markerKey, '0', '0')
  end
end

-- MARK1: "next due time" from the earliest delayed job.
local function marker1(markerKey, delayedKey)
  local first = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', markerKey, math.floor(tonumber(first[2]) / 4096), '1')
  end
end

-- Delayed score for due time `due` (ms): due*4096 + a tie-breaker k.
local function delayedScore(delayedKey, due)
  local lo = due * 4096
  local hi = lo + 4095
  local r = redis.call('ZREVRANGEBYSCORE', delayedKey, hi, lo, 'WITHSCORES', 'LIMIT', 0, 1)
  if r[2] then
    local s = tonumber(r[2])
    if s >= hi then
      return hi
    end
    return s + 1
  end
  return lo
end

-- Prioritized score: priority*2^32 + (INCR pc mod 2^32), FIFO per priority.
local function priorityScore(pcKey, priority)
  local c = redis.call('INCR', pcKey)
  return priority * 4294967296 + (c % 4294967296)
end

-- Put a ready job where workers find it: wait (LPUSH, RPUSH when lifo) for
-- priority 0, else prioritized. Writes marker 0 unless pm.
local function enqueueReady(waitKey, prioritizedKey, pcKey, markerKey, jobId, priority, lifo, pm)
  if priority > 0 then
    redis.call('ZADD', prioritizedKey, priorityScore(pcKey, priority), jobId)
  elseif lifo then
    redis.call('RPUSH', waitKey, jobId)
  else
    redis.call('LPUSH', waitKey, jobId)
  end
  marker0(markerKey, pm)
end
