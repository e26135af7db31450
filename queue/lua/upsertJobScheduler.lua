-- upsertJobScheduler: create or replace a job scheduler and its next
-- iteration (protocol §9.19, "Upsert"). Written for this project from the
-- protocol text.
--
-- KEYS[1] meta (for Cluster routing; the other keys come from the prefix).
-- ARGV[1] key prefix "P:N:"     ARGV[2] scheduler id    ARGV[3] now (ms)
-- ARGV[4] next millis chosen by the client for a cron pattern (0 = every)
-- ARGV[5] every (ms, 0 = pattern)
-- ARGV[6] explicit offset (ms, 0 = none; every only)
-- ARGV[7] startDate (ms, "" = none)
-- ARGV[8] name   ARGV[9] tz or ""   ARGV[10] limit or ""
-- ARGV[11] pattern or ""            ARGV[12] endDate (ms) or ""
-- ARGV[13] template opts JSON ("" when empty)
-- ARGV[14] template data JSON
-- ARGV[15] the iteration's opts JSON without jobId and delay (an object;
--          both are spliced in once the next time is known)
-- ARGV[16] JSON string text of "repeat:<id>:" without its closing quote
-- ARGV[17] priority   ARGV[18] lifo "1"/"0"
-- Returns {iteration id, delay}, or -10 (a cron iteration id is taken),
-- -11 (32 consecutive every slots are taken).
--@include "common"
--@include "ready"

local prefix, sid = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local kMeta, kRepeat = KEYS[1], prefix .. 'repeat'
local kDelayed, kPrioritized, kWait = prefix .. 'delayed', prefix .. 'prioritized', prefix .. 'wait'
local schedKey = kRepeat .. ':' .. sid
local every = tonumber(ARGV[5])
local explicitOffset = tonumber(ARGV[6])

local function ms(n)
  return string.format('%d', n)
end

local maxEv = maxEvents(kMeta)
local prev = redis.call('ZSCORE', kRepeat, sid)
if prev then
  prev = tonumber(prev)
end

-- The first (or catch-up) every slot: startDate if later than now, else the
-- next offset-aligned slot, else now; after an iteration, the previous +
-- every, realigned when behind. Also returns the offset (next mod every
-- when none was given).
local function everyNext(from, offset, startDate)
  local nextMs
  if not from then
    if startDate then
      nextMs = math.max(startDate, now)
    elseif offset > 0 then
      nextMs = math.floor(now / every) * every + offset
      if nextMs <= now then
        nextMs = nextMs + every
      end
    else
      nextMs = now
    end
  else
    nextMs = nextEverySlot(from, every, offset, now)
  end
  if offset == 0 then
    offset = nextMs - math.floor(nextMs / every) * every
  end
  return math.floor(nextMs), math.floor(offset)
end

local nextMs, newOffset = tonumber(ARGV[4]), explicitOffset
local everyChanged = false
if every > 0 then
  local from = prev
  if prev and tonumber(redis.call('HGET', schedKey, 'every')) ~= every then
    from = nil
    everyChanged = true
  end
  nextMs, newOffset = everyNext(from, explicitOffset, tonumber(ARGV[7]))
end

-- The pending iteration is replaced when it has not started: delayed,
-- prioritized, or waiting (BullMQ looks for a waiting one in the legacy
-- `paused` list while the queue is paused, so it stays then).
local function dropPending(id)
  local jobKey = prefix .. id
  local removed = redis.call('ZREM', kDelayed, id) == 1 or redis.call('ZREM', kPrioritized, id) == 1
  if not removed then
    local list = kWait
    if redis.call('HEXISTS', kMeta, 'paused') == 1 then
      list = prefix .. 'paused'
    end
    removed = redis.call('LREM', list, 1, id) > 0
  end
  if removed then
    local deid = redis.call('HGET', jobKey, 'deid')
    if deid and redis.call('GET', prefix .. 'de:' .. deid) == id then
      redis.call('DEL', prefix .. 'de:' .. deid, prefix .. 'dn:' .. deid)
    end
    removeJobKeys(jobKey)
  end
  return removed
end

-- The offset field: the given one (or, when none, the stored one) when the
-- pending iteration is replaced; else the one just computed.
local storedOffset = nil
if every > 0 and explicitOffset > 0 then
  storedOffset = explicitOffset
end
local replaced = false
if prev then
  local cur = 'repeat:' .. sid .. ':' .. ms(prev)
  if redis.call('EXISTS', prefix .. cur) == 1 then
    replaced = dropPending(cur)
  end
end
if replaced then
  if every > 0 and not everyChanged then
    nextMs = prev
  end
else
  storedOffset = newOffset
end

local jobId = 'repeat:' .. sid .. ':' .. ms(nextMs)
local collision = false
if redis.call('EXISTS', prefix .. jobId) == 1 then
  if every > 0 then
    local taken = true
    for _ = 1, 32 do
      nextMs = nextMs + every
      jobId = 'repeat:' .. sid .. ':' .. ms(nextMs)
      if redis.call('EXISTS', prefix .. jobId) == 0 then
        taken = false
        break
      end
    end
    if taken then
      return -11
    end
  else
    collision = true
  end
end
if collision and not replaced then
  return -10
end

local delay = nextMs - now
if delay < 0 then
  delay = 0
end

-- The scheduler hash, rewritten whole; ic and (unless given) offset kept.
redis.call('ZADD', kRepeat, ms(nextMs), sid)
local old = redis.call('HMGET', schedKey, 'offset', 'ic')
local fields = {'name', ARGV[8]}
local function opt(name, v)
  if v and v ~= '' then
    fields[#fields + 1] = name
    fields[#fields + 1] = v
  end
end
opt('tz', ARGV[9])
opt('limit', ARGV[10])
opt('pattern', ARGV[11])
opt('startDate', ARGV[7])
opt('endDate', ARGV[12])
if every > 0 then
  opt('every', ARGV[5])
end
if storedOffset then
  opt('offset', ms(storedOffset))
else
  opt('offset', old[1])
end
opt('opts', ARGV[13])
if ARGV[14] ~= '{}' then
  opt('data', ARGV[14])
end
fields[#fields + 1] = 'ic'
fields[#fields + 1] = old[2] or '1'
redis.call('DEL', schedKey)
redis.call('HSET', schedKey, unpack(fields))
redis.call('INCR', prefix .. 'id')

-- The iteration: stored and enqueued like an add.
local rest = string.sub(ARGV[15], 2)
if rest ~= '}' then
  rest = ',' .. rest
end
local opts = '{"delay":' .. ms(delay) .. ',"jobId":' .. ARGV[16] .. ms(nextMs) .. '"' .. rest
local priority = tonumber(ARGV[17]) or 0
redis.call('HSET', prefix .. jobId, 'name', ARGV[8], 'data', ARGV[14], 'opts', opts, 'timestamp', ARGV[3],
  'delay', delay, 'priority', priority, 'rjk', sid)
local kEvents = prefix .. 'events'
emit(kEvents, nil, 'added', 'jobId', jobId, 'name', ARGV[8])
if delay > 0 then
  local due = now + delay
  redis.call('ZADD', kDelayed, delayedScore(kDelayed, due), jobId)
  emit(kEvents, maxEv, 'delayed', 'jobId', jobId, 'delay', due)
  marker1(prefix .. 'marker', kDelayed)
else
  enqueueReady(kWait, kPrioritized, prefix .. 'pc', prefix .. 'marker', jobId, priority, ARGV[18] == '1',
    pausedOrMaxed(kMeta, prefix .. 'active'))
  emit(kEvents, maxEv, 'waiting', 'jobId', jobId)
end
return {jobId, delay}
