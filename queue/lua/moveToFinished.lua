-- moveToFinished: complete or finally fail an active job, apply
-- retention, and fetch the next job in the same call (protocol §9.9).
-- Written for this project from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix "P:N:"     ARGV[2] job id        ARGV[3] now (ms)
-- ARGV[4] lock token            ARGV[5] "completed" or "failed"
-- ARGV[6] value: returnvalue JSON (completed) or raw failedReason (failed)
-- ARGV[7] keep count (-1 keep all, 0 remove now, N keep newest N)
-- ARGV[8] keep age (s, may be fractional; 0 = none)
-- ARGV[9] age removal limit per call
-- ARGV[10] the job's attempts    ARGV[11] fetch next "1"/"0"
-- ARGV[12] next lock token      ARGV[13] lock duration (ms)
-- ARGV[14] worker limiter max   ARGV[15] worker limiter duration (ms)
-- ARGV[16] worker name          ARGV[17] stacktrace JSON ("" = leave)
-- ARGV[14..17] may be left out from the end when 0 / "" (see trimArgs).
-- Returns -1 job missing, -2 lock missing, -6 lock mismatch, -3 not
-- active, -4 pending children, -9 failed children; else the
-- moveToActive reply of the fetched next job (see moveToActive.lua), or 0.
--@include "common"
--@include "worker"

local prefix = ARGV[1]
local jobId = ARGV[2]
local nowS = ARGV[3]
local now = tonumber(nowS)
local token = ARGV[4]
local target = ARGV[5]
local value = ARGV[6]
local jobKey = prefix .. jobId
local completed = target == 'completed'
local cold -- coldOps(), built on first use

-- One read of the hash: existence (timestamp is always there), parent,
-- dedup id and attempts made.
local f = redis.call('HMGET', jobKey, 'timestamp', 'parentKey', 'parent', 'deid', 'atm')
if not f[1] and redis.call('EXISTS', jobKey) == 0 then
  return -1
end
if completed and redis.call('EXISTS', jobKey .. ':dependencies', jobKey .. ':unsuccessful') > 0 then
  if redis.call('SCARD', jobKey .. ':dependencies') ~= 0 then
    return -4
  end
  return -9
end
local lc = checkLock(jobKey, token)
if lc ~= 0 then
  return lc
end
if redis.call('LREM', Q.active, '-1', jobId) == 0 then
  return -3
end
local count = tonumber(ARGV[7])
if count ~= 0 then
  dropLock(jobKey, jobId, token)
elseif token ~= '0' then
  -- the lock goes with the job's keys below: one DEL instead of two
  redis.call('SREM', Q.stalled, jobId)
end

local meta = readMeta()
local maxEv, absent = maxLenArg(meta[5])
if absent then
  redis.call('HSET', Q.meta, 'opts.maxLenEvents', maxEv)
end

-- deduplication release (§9.5)
if f[4] then
  local deKey = prefix .. 'de:' .. f[4]
  local ttl = redis.call('PTTL', deKey)
  if ttl == 0 then
    redis.call('DEL', deKey)
  elseif ttl == -1 and redis.call('GET', deKey) == jobId then
    redis.call('DEL', deKey)
  end
  cold = cold or coldOps()
  cold.requeueStashed(prefix, f[4], now, maxEv)
end

if f[2] or f[3] then
  cold = cold or coldOps()
  cold.updateParent(jobKey, f[2], f[3], completed, value, now)
end

local atm = (tonumber(f[5]) or 0) + 1
local atmS = int(atm)

-- retention (§9.9 step 10); every job removed here is detached from its
-- parent first (removeFinished, detachFromParent)
local targetKey = Q.completed
local property = 'returnvalue'
if not completed then
  targetKey = Q.failed
  property = 'failedReason'
end
if count ~= 0 then
  redis.call('ZADD', targetKey, nowS, jobId)
  if completed then
    redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS)
  else
    if ARGV[17] and ARGV[17] ~= '' then
      redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS, 'stacktrace', ARGV[17])
    else
      redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS)
    end
    redis.call('HDEL', jobKey, 'defa')
  end
  local age = tonumber(ARGV[8])
  if age > 0 then
    local limit = tonumber(ARGV[9])
    if limit <= 0 then
      limit = 1000
    end
    -- newest first among the old ones, as BullMQ picks them; age may be
    -- fractional (0.5 = 500 ms)
    local old = redis.call('ZREVRANGEBYSCORE', targetKey, now - age * 1000, '-inf', 'LIMIT', 0, limit)
    if #old > 0 then
      cold = cold or coldOps()
    end
    for _, id in ipairs(old) do
      cold.removeFinished(prefix, id)
    end
    if #old > 0 then
      redis.call('ZREM', targetKey, unpack(old))
    end
  end
  if count > 0 then
    -- bounded per call (10000) so one finish never stalls Redis
    local extra = redis.call('ZCARD', targetKey) - count
    if extra > 0 then
      if extra > 10000 then
        extra = 10000
      end
      local old = redis.call('ZRANGE', targetKey, 0, extra - 1)
      cold = cold or coldOps()
      for _, id in ipairs(old) do
        cold.removeFinished(prefix, id)
      end
      redis.call('ZREMRANGEBYRANK', targetKey, 0, extra - 1)
    end
  end
else
  -- removed at once: detach from the parent (a failed child without a
  -- policy is still one of its dependencies), then delete
  if f[2] and f[2] ~= '' then
    cold = cold or coldOps()
    cold.detachFromParent(jobKey, f[2], false)
  end
  if token ~= '0' then
    removeJobKeys(jobKey, jobKey .. ':lock')
  else
    removeJobKeys(jobKey)
  end
end

-- The finish event is written with MAXLEN ~ (Node runs a separate XTRIM
-- before an untrimmed XADD: same bound, one call less).
emit(Q.events, maxEv, target, 'jobId', jobId, property, value, 'prev', 'active')
if not completed and atm >= (tonumber(ARGV[10]) or 0) then
  emit(Q.events, nil, 'retries-exhausted', 'jobId', jobId, 'attemptsMade', atmS)
end

if ARGV[11] == '1' then
  local r, pm = fetchJob(meta, prefix, now, nowS, ARGV[12], ARGV[13], tonumber(ARGV[14] or 0),
    tonumber(ARGV[15] or 0), ARGV[16] or '')
  if r[1] ~= 0 or r[3] > 0 or r[4] > 0 or pm then
    return r
  end
end
if redis.call('LLEN', Q.wait) == 0 and redis.call('LLEN', Q.active) == 0
  and redis.call('ZCARD', Q.prioritized) == 0 then
  emit(Q.events, nil, 'drained')
end
return 0
