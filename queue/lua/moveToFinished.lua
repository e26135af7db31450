-- moveToFinished: finish one or several active jobs of one worker in one
-- call (group commit) — complete, finally fail, or retry each — applying
-- retention and metrics, and fetch the next job for each freed slot
-- (protocol §9.9, §9.10). The jobs are handled in order, each exactly as a
-- call of its own would at the same time `now`: its lock checked, its
-- events written, its refusal returned to it. Written for this project
-- from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix "P:N:"   ARGV[2] now (ms)   ARGV[3] lock duration (ms)
-- ARGV[4] worker limiter max  ARGV[5] worker limiter duration (ms)
-- ARGV[6] worker name         ARGV[7] metrics max data points (0 = off)
-- From ARGV[8], one record per job, its first field its kind:
--   'c' id token returnvalue keep nextToken            (completed)
--   'f' id token reason keep nextToken attempts stack  (failed for good)
--   'd' id token delay reason stack                    (retry after delay ms)
--   'r' id token lifo reason stack                     (retry now)
-- keep: retention count (-1 all, 0 remove now, N newest N), or
-- "count,age,limit" when an age (s, may be fractional) is set.
-- nextToken: the lock token of the job fetched next ("" = fetch none).
-- Returns one reply per record, in order: -1 job missing, -2 lock missing,
-- -6 lock mismatch, -3 not active, -4 pending children, -9 failed
-- children; else the moveToActive reply of the job fetched next (see
-- moveToActive.lua), or 0.
--@include "common"
--@include "worker"

local prefix = ARGV[1]
local nowS = ARGV[2]
local now = tonumber(nowS)
local lockMs = ARGV[3]
local limMax = tonumber(ARGV[4]) or 0
local limDur = tonumber(ARGV[5]) or 0
local workerName = ARGV[6]
local metricsMax = tonumber(ARGV[7]) or 0

local meta = readMeta()
-- the events MAXLEN; when absent from meta, written there the first time
-- a job gets past its checks (evAbsent false after that)
local maxEv, evAbsent = maxLenArg(meta[5])

local nCompleted, nFailed = 0, 0 -- finished jobs, for metrics
local out = {}
local i = 8
-- Each record's steps run inline in this loop (a function per record
-- kind would be one more closure built on every call); `repeat … until
-- true` gives them an early exit (break) with their refusal in rc.
while i <= #ARGV do
  local kind, jobId, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local rc = 0
  if kind == 'c' or kind == 'f' then
    -- Complete or finally fail (§9.9 steps 1–12), then fetch (14–15).
    local completed = kind == 'c'
    local value, keep, nextToken = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    local attempts, stack = '0', ''
    if completed then
      i = i + 6
    else
      attempts, stack = ARGV[i + 6], ARGV[i + 7]
      i = i + 8
    end
    repeat
      local jobKey = prefix .. jobId
      -- One read of the hash: existence (timestamp is always there),
      -- parent, dedup id and attempts made.
      local f = redis.call('HMGET', jobKey, 'timestamp', 'parentKey', 'parent', 'deid', 'atm')
      if not f[1] and redis.call('EXISTS', jobKey) == 0 then
        rc = -1
        break
      end
      if completed and redis.call('EXISTS', jobKey .. ':dependencies', jobKey .. ':unsuccessful') > 0 then
        rc = -9
        if redis.call('SCARD', jobKey .. ':dependencies') ~= 0 then
          rc = -4
        end
        break
      end
      rc = checkLock(jobKey, token)
      if rc ~= 0 then
        break
      end
      if redis.call('LREM', Q.active, '-1', jobId) == 0 then
        rc = -3
        break
      end
      -- retention: a count, or "count,age,limit"
      local count, age, limit = tonumber(keep), 0, 0
      if not count then
        local c, a, l = string.match(keep, '^(-?%d+),([%d.]+),(%d+)$')
        count, age, limit = tonumber(c) or -1, tonumber(a) or 0, tonumber(l) or 0
      end
      -- when the job is removed, its lock goes with its keys below: one
      -- DEL instead of two
      dropLock(jobKey, jobId, token, count == 0)
      if evAbsent then
        redis.call('HSET', Q.meta, 'opts.maxLenEvents', maxEv)
        evAbsent = false
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
        local ops = flowOps()
        ops.requeueStashed(prefix, f[4], now, maxEv)
      end

      if f[2] or f[3] then
        local ops = flowOps()
        ops.updateParent(jobKey, f[2], f[3], completed, value, now)
      end

      local atm = (tonumber(f[5]) or 0) + 1
      local atmS = int(atm)

      -- retention (§9.9 step 10); every job removed here is detached from
      -- its parent first (removeFinished, detachFromParent)
      local property, target = 'returnvalue', 'completed'
      if not completed then
        property, target = 'failedReason', 'failed'
      end
      local targetKey = prefix .. target
      if count ~= 0 then
        redis.call('ZADD', targetKey, nowS, jobId)
        if completed then
          redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS)
        else
          if stack ~= '' then
            redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS, 'stacktrace', stack)
          else
            redis.call('HSET', jobKey, property, value, 'finishedOn', nowS, 'atm', atmS)
          end
          redis.call('HDEL', jobKey, 'defa')
        end
        if age > 0 then
          if limit <= 0 then
            limit = 1000
          end
          -- newest first among the old ones, as BullMQ picks them; age may
          -- be fractional (0.5 = 500 ms)
          local old = redis.call('ZREVRANGEBYSCORE', targetKey, now - age * 1000, '-inf', 'LIMIT', 0, limit)
          if #old > 0 then
            local ops = flowOps()
            for _, id in ipairs(old) do
              ops.removeFinished(prefix, id)
            end
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
            local ops = flowOps()
            for _, id in ipairs(old) do
              ops.removeFinished(prefix, id)
            end
            redis.call('ZREMRANGEBYRANK', targetKey, 0, extra - 1)
          end
        end
      else
        -- removed at once: detach from the parent (a failed child without
        -- a policy is still one of its dependencies), then delete
        if f[2] and f[2] ~= '' then
          local ops = flowOps()
          ops.detachFromParent(jobKey, f[2], false)
        end
        if token ~= '0' then
          removeJobKeys(jobKey, jobKey .. ':lock')
        else
          removeJobKeys(jobKey)
        end
      end

      -- The finish event is written with MAXLEN ~ (Node runs a separate
      -- XTRIM before an untrimmed XADD: same bound, one call less).
      emit(Q.events, maxEv, target, 'jobId', jobId, property, value, 'prev', 'active')
      if not completed and atm >= (tonumber(attempts) or 0) then
        emit(Q.events, nil, 'retries-exhausted', 'jobId', jobId, 'attemptsMade', atmS)
      end
      if completed then
        nCompleted = nCompleted + 1
      else
        nFailed = nFailed + 1
      end

      -- the next job for the freed slot
      if nextToken ~= '' then
        if cold then
          -- a flow, dedup or retry step may have delayed a job to now
          promoted = false
        end
        local r, pm = fetchJob(meta, prefix, now, nowS, nextToken, lockMs, limMax, limDur, workerName)
        if r[1] ~= 0 or r[3] > 0 or r[4] > 0 or pm then
          rc = r
          break
        end
      end
      if redis.call('LLEN', Q.wait) == 0 and redis.call('LLEN', Q.active) == 0
        and redis.call('ZCARD', prefix .. 'prioritized') == 0 then
        emit(Q.events, nil, 'drained')
      end
    until true
  elseif kind == 'd' or kind == 'r' then
    local ops = coldOps()
    if kind == 'd' then
      rc = ops.retryLater(prefix, jobId, now, token, ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], maxEv, evAbsent)
    else
      rc = ops.retryNow(prefix, jobId, now, token, ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], maxEv, evAbsent)
    end
    if rc == 0 then
      evAbsent = false
    end
    i = i + 6
  else
    return redis.error_reply('moveToFinished: unknown record kind ' .. tostring(kind))
  end
  out[#out + 1] = rc
end

-- Metrics of this call's finished jobs, recorded at the end: they share
-- `now`, so one update per series leaves what one per job would.
if metricsMax > 0 then
  local ops = coldOps()
  if nCompleted > 0 then
    ops.recordMetrics(prefix .. 'metrics:completed', nCompleted, now, nowS, metricsMax)
  end
  if nFailed > 0 then
    ops.recordMetrics(prefix .. 'metrics:failed', nFailed, now, nowS, metricsMax)
  end
end
return out
