-- addJob: store one job and make it ready, delayed or prioritized
-- (protocol §9.1–9.5). Written for this project from the protocol text.
--
-- KEYS[1] meta (for Cluster routing). The queue's other keys (wait, id,
-- delayed, prioritized, pc, marker, events, active) are built from the
-- prefix ARGV[1]: receiving them would cost Redis more than building them.
-- ARGV[1] key prefix "P:N:"   ARGV[2] custom id or ""   ARGV[3] name
-- ARGV[4] timestamp (ms)      ARGV[5] data JSON         ARGV[6] opts JSON
-- ARGV[7] delay (ms)          ARGV[8] priority          ARGV[9] lifo "1"/"0"
-- ARGV[10] deduplication id, "" or absent (no deduplication; ARGV[11..15]
-- are then absent too)
-- ARGV[11] deduplication ttl (ms, 0 = none)
-- ARGV[12] extend "1"/"0"     ARGV[13] replace "1"/"0"
-- ARGV[14] reschedule "1"/"0" ARGV[15] keepLastIfActive "1"/"0"
-- The dedup keys ARGV[1].."de:"..id and ARGV[1].."dn:"..id are derived from
-- the prefix like job keys (so one hash slot with a "{…}" prefix).
-- Returns {jobId, 0} for a stored job, {jobId, 1} when the custom id existed
-- (nothing changed; a `duplicated` event was written), {ownerId, 2} when
-- deduplication kept (or stashed behind) the existing owner and stored
-- nothing new.
--@include "common"

local prefix = ARGV[1]
local kMeta, kId, kEvents = KEYS[1], prefix .. 'id', prefix .. 'events'
local counter = redis.call('INCR', kId)
-- one read of the meta fields this script needs: events bound, paused,
-- global concurrency
local meta = redis.call('HMGET', kMeta, 'opts.maxLenEvents', 'paused', 'concurrency')
local maxEv, absent = maxLenArg(meta[1])
if absent then
  redis.call('HSET', kMeta, 'opts.maxLenEvents', maxEv)
end
local jobId = ARGV[2]
if jobId == '' then
  jobId = int(counter)
end
local jobKey = prefix .. jobId

if ARGV[2] ~= '' and redis.call('EXISTS', jobKey) == 1 then
  emit(kEvents, maxEv, 'duplicated', 'jobId', jobId)
  return {jobId, 1}
end

local timestamp = tonumber(ARGV[4])
local delay = tonumber(ARGV[7])
local priority = tonumber(ARGV[8])

-- Deduplication (§9.5). Returns the owner id when the add is dropped.
local deid = ARGV[10] or ''
local function dedup()
  local deKey = prefix .. 'de:' .. deid
  local dnKey = prefix .. 'dn:' .. deid
  local ttl = tonumber(ARGV[11]) or 0
  local extend, replace = ARGV[12] == '1', ARGV[13] == '1'
  local reschedule, keepLast = ARGV[14] == '1', ARGV[15] == '1'
  -- point the key at id: keepLastIfActive keys never carry a TTL
  local function point(id)
    if ttl > 0 and not keepLast then
      redis.call('SET', deKey, id, 'PX', ttl)
    else
      redis.call('SET', deKey, id)
    end
  end
  -- stale-key recovery: no TTL and the owner's hash is gone
  local function stale(owner)
    if redis.call('PTTL', deKey) == -1 and redis.call('EXISTS', prefix .. owner) == 0 then
      redis.call('DEL', deKey, dnKey)
      point(jobId)
      return true
    end
    return false
  end
  local function deduplicated(owner)
    emit(kEvents, maxEv, 'deduplicated', 'jobId', owner, 'deduplicationId', deid,
      'deduplicatedJobId', jobId)
  end
  -- keepLastIfActive: stash the would-be job while the owner is active
  local function stash(owner)
    if not keepLast or not redis.call('LPOS', (prefix .. 'active'), owner) then
      return false
    end
    redis.call('DEL', dnKey)
    redis.call('HSET', dnKey, 'name', ARGV[3], 'data', ARGV[5], 'opts', ARGV[6], 'jid', jobId)
    redis.call('PERSIST', deKey)
    deduplicated(owner)
    return true
  end

  local owner
  if replace then
    owner = redis.call('GET', deKey)
    if not owner then
      point(jobId)
      return nil
    end
    if redis.call('ZREM', (prefix .. 'delayed'), owner) == 1 then
      removeJobKeys(prefix .. owner)
      emit(kEvents, nil, 'removed', 'jobId', owner, 'prev', 'delayed')
      emit(kEvents, maxEv, 'deduplicated', 'jobId', jobId, 'deduplicationId', deid,
        'deduplicatedJobId', owner)
      redis.call('DEL', dnKey)
      if ttl > 0 and not extend and not keepLast then
        redis.call('SET', deKey, jobId, 'KEEPTTL')
      else
        point(jobId)
      end
      return nil
    end
    if stale(owner) then
      return nil
    end
    stash(owner)
    return owner
  end

  if ttl > 0 and extend then
    owner = redis.call('GET', deKey)
    if not owner then
      point(jobId)
      return nil
    end
    if stale(owner) then
      return nil
    end
    if not stash(owner) then
      point(owner)
      deduplicated(owner)
    end
  else
    local set
    if ttl > 0 and not keepLast then
      set = redis.call('SET', deKey, jobId, 'PX', ttl, 'NX')
    else
      set = redis.call('SET', deKey, jobId, 'NX')
    end
    if set then
      return nil
    end
    owner = redis.call('GET', deKey)
    if stale(owner) then
      return nil
    end
    if not stash(owner) then
      deduplicated(owner)
    end
  end
  if reschedule and redis.call('ZSCORE', (prefix .. 'delayed'), owner) then
    local d = delay
    if d < 0 then
      d = 0
    end
    redis.call('HSET', prefix .. owner, 'delay', d)
    local due = timestamp + d
    redis.call('ZADD', (prefix .. 'delayed'), delayedScore((prefix .. 'delayed'), due), owner)
    emit(kEvents, maxEv, 'delayed', 'jobId', owner, 'delay', due)
    marker1((prefix .. 'marker'), (prefix .. 'delayed'))
  end
  return owner
end

local fields = {'name', ARGV[3], 'data', ARGV[5], 'opts', ARGV[6],
  'timestamp', ARGV[4], 'delay', ARGV[7], 'priority', ARGV[8]}
if deid ~= '' then
  local owner = dedup()
  if owner then
    return {owner, 2}
  end
  fields[#fields + 1] = 'deid'
  fields[#fields + 1] = deid
end

redis.call('HSET', jobKey, unpack(fields))
emit(kEvents, nil, 'added', 'jobId', jobId, 'name', ARGV[3])

if delay > 0 then
  local due = timestamp + delay
  redis.call('ZADD', (prefix .. 'delayed'), delayedScore((prefix .. 'delayed'), due), jobId)
  emit(kEvents, maxEv, 'delayed', 'jobId', jobId, 'delay', due)
  marker1((prefix .. 'marker'), (prefix .. 'delayed'))
else
  local pm = meta[2] and true or false
  if not pm and meta[3] then
    local c = tonumber(meta[3])
    pm = c ~= nil and redis.call('LLEN', (prefix .. 'active')) >= c
  end
  enqueueReady((prefix .. 'wait'), (prefix .. 'prioritized'), (prefix .. 'pc'), (prefix .. 'marker'), jobId, priority, ARGV[9] == '1', pm)
  emit(kEvents, maxEv, 'waiting', 'jobId', jobId)
end
return {jobId, 0}
