-- advanceScheduler: when a worker starts an iteration of a job scheduler,
-- create the scheduler's next iteration (protocol §9.19, "Advance").
-- Written for this project from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix "P:N:"       ARGV[2] scheduler id (the job's rjk)
-- ARGV[3] id of the started job   ARGV[4] now (ms)
-- ARGV[5] next millis chosen by the client for a cron scheduler (0 = every)
-- ARGV[6] opts JSON of the next iteration without jobId and delay (an
--         object; both are spliced in here once the next time is known)
-- ARGV[7] JSON string text of "repeat:<id>:" without its closing quote
-- ARGV[8] "1" when the id has the legacy repeatable-key shape
-- ARGV[9] the job's repeat.every (0 = none)
-- ARGV[10] the job's repeat.offset (0 = none)
-- ARGV[11] priority               ARGV[12] lifo "1"/"0"
-- ARGV[13] deduplication id or "" ARGV[14] name if the scheduler has none
-- Returns {code, id}: 1 = next iteration `id` created; 2 = `id` already
-- existed (a `duplicated` event was written); 0 = legacy repeatable job,
-- not a scheduler; 3 = scheduler removed; 4 = the started job is not the
-- scheduler's current iteration; 5 = no next time.
--@include "common"
--@include "ready"
--@include "worker"

local prefix = ARGV[1]
local sid = ARGV[2]
local now = tonumber(ARGV[4])
local repKey = prefix .. 'repeat'
local schedKey = repKey .. ':' .. sid

-- Integer millis as text ("%d": exact up to 2^53, never exponent form).
local function ms(n)
  return string.format('%d', n)
end

if ARGV[8] == '1' and redis.call('HEXISTS', schedKey, 'ic') == 0 then
  return {0, ''}
end
local prev = redis.call('ZSCORE', repKey, sid)
if not prev then
  return {3, ''}
end
prev = tonumber(prev)
local a = redis.call('HMGET', schedKey, 'name', 'data', 'every', 'offset')

local nextMs
local every = tonumber(a[3])
if not every or every <= 0 then
  every = tonumber(ARGV[9])
end
if every and every > 0 then
  local offset = tonumber(a[4]) or tonumber(ARGV[10]) or 0
  nextMs = math.floor(nextEverySlot(prev, every, offset, now))
else
  nextMs = tonumber(ARGV[5])
  if not nextMs or nextMs <= 0 then
    return {5, ''}
  end
end

if ARGV[3] ~= 'repeat:' .. sid .. ':' .. ms(prev) then
  return {4, ''}
end

local maxEv = maxEvents(Q.meta)
local nextId = 'repeat:' .. sid .. ':' .. ms(nextMs)
local jobKey = prefix .. nextId
if redis.call('EXISTS', jobKey) == 1 then
  emit(Q.events, maxEv, 'duplicated', 'jobId', nextId)
  return {2, nextId}
end

redis.call('ZADD', repKey, nextMs, sid)
redis.call('HINCRBY', schedKey, 'ic', 1)
redis.call('INCR', prefix .. 'id')

local delay = nextMs - now
if delay < 0 then
  delay = 0
end
local rest = string.sub(ARGV[6], 2)
if rest ~= '}' then
  rest = ',' .. rest
end
local opts = '{"delay":' .. ms(delay) .. ',"jobId":' .. ARGV[7] .. ms(nextMs) .. '"' .. rest

local name = a[1] or ARGV[14]
local priority = tonumber(ARGV[11]) or 0
local fields = {'name', name, 'data', a[2] or '{}', 'opts', opts, 'timestamp', ARGV[4],
  'delay', delay, 'priority', priority, 'rjk', sid}
if ARGV[13] ~= '' then
  fields[#fields + 1] = 'deid'
  fields[#fields + 1] = ARGV[13]
end
redis.call('HSET', jobKey, unpack(fields))
emit(Q.events, nil, 'added', 'jobId', nextId, 'name', name)
if delay > 0 then
  local due = now + delay
  redis.call('ZADD', Q.delayed, delayedScore(Q.delayed, due), nextId)
  emit(Q.events, maxEv, 'delayed', 'jobId', nextId, 'delay', due)
  marker1(Q.marker, Q.delayed)
else
  enqueueReady(Q.wait, prefix .. 'prioritized', prefix .. 'pc', Q.marker, nextId, priority, ARGV[12] == '1',
    pausedOrMaxed(Q.meta, Q.active))
  emit(Q.events, maxEv, 'waiting', 'jobId', nextId)
end
return {1, nextId}
