-- Shared functions for the queue scripts (protocol §7, §9 sub-steps).
-- Numbers reach redis.call as Lua numbers (exact up to 2^53); never build a
-- score by string concatenation, which keeps only 14 digits.

-- Numbers handed to redis.call are formatted by Redis with "%.17g", which
-- costs thousands of instructions for a millisecond timestamp: the hot
-- paths pass strings (ARGV as received, or integers formatted with %d).
local function int(n)
  return string.format('%d', n)
end

-- The MAXLEN argument for a stored opts.maxLenEvents value (or nil): the
-- string itself when it is a plain integer, else the number it reads as,
-- else 10000 (and needsWrite says the field must be written).
local function maxLenArg(m)
  if not m then
    return '10000', true
  end
  if string.find(m, '^%d+$') then
    return m, false
  end
  return int(tonumber(m) or 10000), false
end

-- MAXEV: the approximate MAXLEN of the events stream (a string for
-- redis.call), written if absent.
local function maxEvents(metaKey)
  local m, absent = maxLenArg(redis.call('HGET', metaKey, 'opts.maxLenEvents'))
  if absent then
    redis.call('HSET', metaKey, 'opts.maxLenEvents', m)
  end
  return m
end

-- EMIT: append an event; maxLen nil writes it untrimmed.
local function emit(eventsKey, maxLen, event, ...)
  if maxLen then
    return redis.call('XADD', eventsKey, 'MAXLEN', '~', maxLen, '*', 'event', event, ...)
  end
  return redis.call('XADD', eventsKey, '*', 'event', event, ...)
end

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

-- PROMOTE: move up to 1000 due delayed jobs to wait/prioritized.
-- q is a table of key names: delayed, wait, marker, events, meta, active.
-- prefix is "P:N:" (prioritized and pc are built from it). Returns how many
-- moved.
local function promoteDelayed(q, prefix, now)
  local ids = redis.call('ZRANGEBYSCORE', q.delayed, '0', int((now + 1) * 4096 - 1), 'LIMIT', '0', '1000')
  if #ids == 0 then
    return 0
  end
  redis.call('ZREM', q.delayed, unpack(ids))
  for _, id in ipairs(ids) do
    local jobKey = prefix .. id
    local p = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
    if p > 0 then
      redis.call('ZADD', prefix .. 'prioritized', priorityScore(prefix .. 'pc', p), id)
    else
      redis.call('LPUSH', q.wait, id)
    end
    emit(q.events, nil, 'waiting', 'jobId', id, 'prev', 'delayed')
    redis.call('HSET', jobKey, 'delay', 0)
  end
  marker0(q.marker, pausedOrMaxed(q.meta, q.active))
  return #ids
end

-- REMOVE_KEYS: the job hash and its sub-keys (not the lock), plus any
-- extra keys given (deleted in the same call).
local function removeJobKeys(jobKey, ...)
  return redis.call('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies',
    jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful', ...)
end

-- A v5 "0:…" marker at the tail of a wait/paused list is popped (as Node's
-- getters do); returns the list's length after that, nil when there was
-- no marker.
local function dropLegacyMarker(key)
  local tail = redis.call('LINDEX', key, -1)
  if tail and string.sub(tail, 1, 2) == '0:' then
    local n = redis.call('LLEN', key)
    if n > 1 then
      redis.call('RPOP', key)
      return n - 1
    end
    return 0
  end
  return nil
end

-- A retried flow child (from state 'failed' or 'completed') goes back among
-- its parent's pending dependencies, when the parent still exists and had
-- recorded the child's outcome (a parent that already left
-- waiting-children stays where it is).
local function restoreDependency(jobKey, state)
  local parentKey = redis.call('HGET', jobKey, 'parentKey')
  if not parentKey or redis.call('EXISTS', parentKey) == 0 then return end
  local back
  if state == 'failed' then
    back = redis.call('ZREM', parentKey .. ':unsuccessful', jobKey) == 1 or
      redis.call('HDEL', parentKey .. ':failed', jobKey) == 1
  else
    back = redis.call('HDEL', parentKey .. ':processed', jobKey) == 1
  end
  if back then
    redis.call('SADD', parentKey .. ':dependencies', jobKey)
  end
end
