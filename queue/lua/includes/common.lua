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

-- The slot of an every-scheduler after the one at prev (ms): prev + every,
-- or, when that is already behind now, the next slot aligned on offset
-- that is strictly after now.
local function nextEverySlot(prev, every, offset, now)
  local nextMs = prev + every
  if nextMs < now then
    nextMs = math.floor(now / every) * every + offset
    if nextMs <= now then
      nextMs = nextMs + every
    end
  end
  return nextMs
end
