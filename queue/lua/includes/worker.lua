-- Shared worker-side functions (protocol §9.7–§9.12). Written for this
-- project from the protocol text. Needs the "common" include first; a
-- script that calls the "ready" functions itself includes "ready" before
-- this (else this includes it inside coldOps).
--
-- Every worker script receives the queue's meta key as KEYS[1] (so a
-- Cluster client routes the call to the queue's slot) and the key prefix
-- "P:N:" as ARGV[1]; the queue's other keys are built here from the
-- prefix, which costs Redis less than receiving them (~11k instructions
-- per call for 15 keys). Every key is one of the queue's own, so a hash tag
-- in the prefix or the name keeps all of them in one Cluster slot.
--
-- Q holds the keys a finish or fetch uses on every call; the others are
-- built where used (P .. 'prioritized'): Redis runs a script's whole body
-- on every call, and each key built costs ~0.8k instructions.
local P = ARGV[1]
local Q = {
  wait = P .. 'wait', active = P .. 'active', delayed = P .. 'delayed', marker = P .. 'marker',
  events = P .. 'events', meta = KEYS[1], stalled = P .. 'stalled',
}

-- What one call has already done and need not repeat for its next job:
-- promoted the due delayed jobs (at the call's one `now`; false again once
-- something that may delay a job to now has run, see moveToFinished),
-- written the marker, found the stalled set absent (nothing in a worker
-- script but the stalled check, which does not use this, adds to it).
-- Plain locals, not a table: one table less to build per call.
local promoted, marked, noStalled = false, false, nil

-- Read the meta fields fetchJob needs (one HMGET): paused, concurrency,
-- max, duration, opts.maxLenEvents.
local function readMeta()
  return redis.call('HMGET', Q.meta, 'paused', 'concurrency', 'max', 'duration', 'opts.maxLenEvents')
end

-- Lock check of every exit from active: 0 ok, -2 missing, -6 mismatch.
-- Token '0' skips the check.
local function checkLock(jobKey, token)
  if token == '0' then
    return 0
  end
  local cur = redis.call('GET', jobKey .. ':lock')
  if not cur then
    return -2
  end
  if cur ~= token then
    return -6
  end
  return 0
end

-- Drop a job's lock (unless withKeys: the caller deletes it along with the
-- job's keys) and take the job out of `stalled`, unless the set is known
-- to be absent. Token '0' (a job taken without a lock) skips both.
local function dropLock(jobKey, jobId, token, withKeys)
  if token == '0' then
    return
  end
  if not withKeys then
    redis.call('DEL', jobKey .. ':lock')
  end
  if noStalled == nil then
    noStalled = redis.call('EXISTS', Q.stalled) == 0
  end
  if not noStalled then
    redis.call('SREM', Q.stalled, jobId)
  end
end

-- What most calls have no use for, built only when a call needs it (once
-- per call): the "ready" functions, the promotion of due delayed jobs, the
-- retry and metrics steps of moveToFinished, the exit from active of
-- moveToWait. Redis runs a script's whole body on every call: every
-- function a script defines at its top level is a closure built on every
-- call, with its upvalues bound (~270 instructions each), and most calls
-- (nothing delayed due, no retry, no metrics) need none of these. Returns
-- them in a table, the "ready" functions included (for flowOps).
-- (cold: the table coldOps returns, once built in this call)
local cold
local function coldOps()
  if cold then
    return cold
  end
  --@include "ready"

  -- PROMOTE (§7): move the due delayed jobs `ids` (looked up by the fetch)
  -- to wait or prioritized.
  local function promote(prefix, ids)
    redis.call('ZREM', Q.delayed, unpack(ids))
    for _, id in ipairs(ids) do
      local jobKey = prefix .. id
      local p = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
      if p > 0 then
        redis.call('ZADD', prefix .. 'prioritized', priorityScore(prefix .. 'pc', p), id)
      else
        redis.call('LPUSH', Q.wait, id)
      end
      emit(Q.events, nil, 'waiting', 'jobId', id, 'prev', 'delayed')
      redis.call('HSET', jobKey, 'delay', 0)
    end
    marker0(Q.marker, pausedOrMaxed(Q.meta, Q.active))
  end

  -- Take a job out of active for a retry or a move back: -1 job missing,
  -- -2/-6 lock, -3 not active; else 0 with the lock dropped. lremCount is
  -- LREM's count (-1 from the tail, 1 from the head).
  local function leaveActive(jobKey, jobId, token, lremCount)
    if redis.call('EXISTS', jobKey) == 0 then
      return -1
    end
    local lc = checkLock(jobKey, token)
    if lc ~= 0 then
      return lc
    end
    if redis.call('LREM', Q.active, lremCount, jobId) == 0 then
      return -3
    end
    dropLock(jobKey, jobId, token)
    return 0
  end

  -- moveToDelayed (§9.10): a failed attempt comes back after delay ms
  -- (delay: the ARGV string). maxEv: the events MAXLEN, written to meta
  -- first when writeMax. Returns 0, or leaveActive's refusal.
  local function retryLater(prefix, jobId, now, token, delay, reason, stack, maxEv, writeMax)
    local jobKey = prefix .. jobId
    local rc = leaveActive(jobKey, jobId, token, -1)
    if rc ~= 0 then
      return rc
    end
    if writeMax then
      redis.call('HSET', Q.meta, 'opts.maxLenEvents', maxEv)
    end
    redis.call('HSET', jobKey, 'failedReason', reason, 'stacktrace', stack, 'delay', delay)
    redis.call('HINCRBY', jobKey, 'atm', 1)
    local due = now + tonumber(delay)
    redis.call('ZADD', Q.delayed, delayedScore(Q.delayed, due), jobId)
    emit(Q.events, maxEv, 'delayed', 'jobId', jobId, 'delay', due)
    marker1(Q.marker, Q.delayed)
    return 0
  end

  -- retryJob (§9.10, no backoff): a failed attempt goes straight back to
  -- wait (or prioritized); lifo "1" puts it at the head. maxEv, writeMax:
  -- as retryLater. Returns 0, or leaveActive's refusal.
  local function retryNow(prefix, jobId, now, token, lifo, reason, stack, maxEv, writeMax)
    local jobKey = prefix .. jobId
    if not promoted then
      -- as the fetch does
      local ids = redis.call('ZRANGEBYSCORE', Q.delayed, '0', int((now + 1) * 4096 - 1), 'LIMIT', '0', '1000')
      promoted = #ids < 1000
      if #ids > 0 then
        promote(prefix, ids)
      end
    end
    local rc = leaveActive(jobKey, jobId, token, -1)
    if rc ~= 0 then
      return rc
    end
    if writeMax then
      redis.call('HSET', Q.meta, 'opts.maxLenEvents', maxEv)
    end
    redis.call('HSET', jobKey, 'failedReason', reason, 'stacktrace', stack)
    local priority = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
    local pm = pausedOrMaxed(Q.meta, Q.active)
    enqueueReady(Q.wait, P .. 'prioritized', P .. 'pc', Q.marker, jobId, priority, lifo == '1', pm)
    redis.call('HINCRBY', jobKey, 'atm', 1)
    emit(Q.events, maxEv, 'waiting', 'jobId', jobId, 'prev', 'active')
    return 0
  end

  -- Metrics (§9.9 step 13) for n jobs finished into target at now: the
  -- series hash counts them; when the minute (now / 60000, floored) changed
  -- since prevTS's, the jobs counted meanwhile are pushed as one data point,
  -- then a zero per further minute (at most maxPoints data points in all),
  -- newest first, and the list is trimmed to maxPoints. n jobs at once (they
  -- share now) leave what n single finishes leave.
  local function recordMetrics(key, n, now, nowS, maxPoints)
    local count = redis.call('HINCRBY', key, 'count', n) - n
    local prev = redis.call('HMGET', key, 'prevTS', 'prevCount')
    if not prev[1] then
      redis.call('HSET', key, 'prevTS', nowS, 'prevCount', '0')
      return
    end
    local points = math.min(math.floor(now / 60000) - math.floor(tonumber(prev[1]) / 60000), maxPoints)
    if points <= 0 then
      return
    end
    local data = key .. ':data'
    redis.call('LPUSH', data, int(count - (tonumber(prev[2]) or 0)))
    -- the zeros in chunks (unpack is bounded)
    local zeros = points - 1
    local chunk = {}
    for i = 1, math.min(zeros, 1000) do
      chunk[i] = '0'
    end
    while zeros > 0 do
      local k = math.min(zeros, 1000)
      redis.call('LPUSH', data, unpack(chunk, 1, k))
      zeros = zeros - k
    end
    redis.call('LTRIM', data, 0, maxPoints - 1)
    redis.call('HSET', key, 'prevCount', int(count), 'prevTS', nowS)
  end

  cold = {promote = promote, leaveActive = leaveActive, retryLater = retryLater,
    retryNow = retryNow, recordMetrics = recordMetrics, pausedOrMaxed = pausedOrMaxed,
    marker0 = marker0, marker1 = marker1, delayedScore = delayedScore,
    priorityScore = priorityScore, enqueueReady = enqueueReady}
  return cold
end

-- moveToActive (§9.7). Returns the reply {fields, id, rateLimitTTL,
-- nextDelayed} and whether the queue was paused or maxed. m is readMeta().
-- nowS / lockDuration: now and the lock duration (ms) as strings.
-- limMax / limDuration: the worker's limiter (0 = none).
local function fetchJob(m, prefix, now, nowS, token, lockDuration, limMax, limDuration, workerName)
  local pm = false
  if m[1] then
    pm = true
  elseif m[2] then
    local c = tonumber(m[2])
    if c and redis.call('LLEN', Q.active) >= c then
      pm = true
    end
  end
  -- PROMOTE once per call: a second promotion at the same `now` finds
  -- nothing, unless the first hit its 1000-job bound. Only the due ones'
  -- lookup is here; moving them is cold.
  if not promoted then
    local ids = redis.call('ZRANGEBYSCORE', Q.delayed, '0', int((now + 1) * 4096 - 1), 'LIMIT', '0', '1000')
    promoted = #ids < 1000
    if #ids > 0 then
      coldOps().promote(prefix, ids)
    end
  end

  local maxJobs = tonumber(m[3])
  if not maxJobs and limMax > 0 then
    maxJobs = limMax
  end
  if maxJobs then
    local limiter = prefix .. 'limiter'
    local cur = tonumber(redis.call('GET', limiter)) or 0
    if cur >= maxJobs then
      local ttl = redis.call('PTTL', limiter)
      if ttl > 0 then
        return {0, 0, ttl, 0}, false
      end
      redis.call('DEL', limiter)
    end
  end
  if pm then
    return {0, 0, 0, 0}, true
  end
  local duration = limDuration
  if duration <= 0 then
    duration = tonumber(m[4]) or 0
  end

  local id = redis.call('RPOPLPUSH', Q.wait, Q.active)
  while id and string.sub(id, 1, 2) == '0:' do
    -- legacy v4 marker entry: drop it and pop again
    redis.call('LREM', Q.active, 1, id)
    id = redis.call('RPOPLPUSH', Q.wait, Q.active)
  end
  if not id then
    local p = redis.call('ZPOPMIN', prefix .. 'prioritized')
    if p[1] then
      id = p[1]
      redis.call('LPUSH', Q.active, id)
    else
      redis.call('DEL', prefix .. 'pc')
    end
  end
  if not id then
    -- the earliest delayed due time (ms), 0 when nothing is delayed
    local first = redis.call('ZRANGE', Q.delayed, 0, 0, 'WITHSCORES')
    if first[2] then
      return {0, 0, 0, math.floor(tonumber(first[2]) / 4096)}, false
    end
    return {0, 0, 0, 0}, false
  end

  local jobKey = prefix .. id
  -- Read the hash once, then write processedOn / ats / pb and patch the
  -- returned copy, instead of HINCRBY + HGETALL.
  local h = redis.call('HGETALL', jobKey)
  local iAts, iPo, iPb, hasDefa
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'ats' then
      iAts = i + 1
    elseif f == 'processedOn' then
      iPo = i + 1
    elseif f == 'pb' then
      iPb = i + 1
    elseif f == 'defa' then
      hasDefa = true
    end
  end
  local ats = 1
  if iAts then
    ats = (tonumber(h[iAts]) or 0) + 1
  end
  if maxJobs and not hasDefa then
    if redis.call('INCR', prefix .. 'limiter') == 1 and duration > 0 then
      redis.call('PEXPIRE', prefix .. 'limiter', math.floor(math.abs(duration)))
    end
  end
  if token ~= '0' then
    redis.call('SET', jobKey .. ':lock', token, 'PX', lockDuration)
  end
  emit(Q.events, nil, 'active', 'jobId', id, 'prev', 'waiting')
  local atsS = int(ats)
  if workerName ~= '' then
    redis.call('HSET', jobKey, 'processedOn', nowS, 'ats', atsS, 'pb', workerName)
  else
    redis.call('HSET', jobKey, 'processedOn', nowS, 'ats', atsS)
  end
  -- patch the copy (no closure: this runs once per fetched job)
  local n = #h
  if iAts then
    h[iAts] = atsS
  else
    h[n + 1], h[n + 2] = 'ats', atsS
    n = n + 2
  end
  if iPo then
    h[iPo] = nowS
  else
    h[n + 1], h[n + 2] = 'processedOn', nowS
    n = n + 2
  end
  if workerName ~= '' then
    if iPb then
      h[iPb] = workerName
    else
      h[n + 1], h[n + 2] = 'pb', workerName
    end
  end
  if not marked then
    redis.call('ZADD', Q.marker, '0', '0')
    marked = true
  end
  return {h, id, 0, 0}, false
end

-- The flow and deduplication helpers of moveToFinished (parents, retention
-- of children, keepLastIfActive), built only when a finish needs them, once
-- per call (a builder apart from coldOps, so that moveToActive, which may
-- need coldOps, does not carry them). Returns them in a table.
-- (flow: the table flowOps returns, once built in this call)
local flow
local function flowOps()
  if flow then
    return flow
  end
  local c = coldOps()
  local pausedOrMaxed, marker0, marker1 = c.pausedOrMaxed, c.marker0, c.marker1
  local delayedScore, priorityScore, enqueueReady = c.delayedScore, c.priorityScore, c.enqueueReady

  -- Release a parent out of waiting-children into its own queue (§9.9 step
  -- 8). parentQueue is "P:parentQueue" (no trailing colon). delay > 0 ⇒
  -- delayed with a `delayed` event only; else wait or prioritized with a
  -- `waiting` prev=`waiting-children` event.
  local function releaseParent(parentQueue, parentKey, parentId, now)
    local pq = parentQueue .. ':'
    local f = redis.call('HMGET', parentKey, 'delay', 'priority')
    local delay = tonumber(f[1]) or 0
    local priority = tonumber(f[2]) or 0
    if delay > 0 then
      local due = now + delay
      redis.call('ZADD', pq .. 'delayed', due * 4096, parentId)
      emit(pq .. 'events', nil, 'delayed', 'jobId', parentId, 'delay', due)
      marker1(pq .. 'marker', pq .. 'delayed')
      return
    end
    local pm = pausedOrMaxed(pq .. 'meta', pq .. 'active')
    if priority > 0 then
      redis.call('ZADD', pq .. 'prioritized', priorityScore(pq .. 'pc', priority), parentId)
    else
      redis.call('RPUSH', pq .. 'wait', parentId)
    end
    marker0(pq .. 'marker', pm)
    emit(pq .. 'events', nil, 'waiting', 'jobId', parentId, 'prev', 'waiting-children')
  end

  -- Split a job key "P:q:id" into its id and queue prefix "P:q:" (the id is
  -- what follows the last colon, as BullMQ reads it).
  local function splitJobKey(jobKey)
    local id = string.match(jobKey, '.*:(.*)') or ''
    return id, string.sub(jobKey, 1, #jobKey - #id)
  end

  -- Detach a removed job from its parent (§9.9 step 8, "removing a child"):
  -- SREM it from the parent's :dependencies; when none is left and the
  -- parent is in waiting-children, move the parent to the tail of its wait
  -- (whatever its delay or priority, as BullMQ does for a removed child),
  -- marker 0 unless paused or maxed, event `waiting` prev=`waiting-children`.
  -- checkParent: act only when the parent hash exists (trimmed jobs).
  local function detachFromParent(childKey, parentKey, checkParent)
    if not parentKey or parentKey == '' then
      return
    end
    if checkParent and redis.call('EXISTS', parentKey) == 0 then
      return
    end
    local deps = parentKey .. ':dependencies'
    if redis.call('SREM', deps, childKey) == 0 or redis.call('SCARD', deps) ~= 0 then
      return
    end
    local pid, pq = splitJobKey(parentKey)
    if redis.call('ZREM', pq .. 'waiting-children', pid) == 1 then
      local pm = pausedOrMaxed(pq .. 'meta', pq .. 'active')
      redis.call('RPUSH', pq .. 'wait', pid)
      marker0(pq .. 'marker', pm)
      emit(pq .. 'events', nil, 'waiting', 'jobId', pid, 'prev', 'waiting-children')
    end
  end

  -- Remove finished job `id` for retention (age or count trimming): detach
  -- it from a parent that still exists, then delete its keys.
  local function removeFinished(prefix, id)
    local jobKey = prefix .. id
    detachFromParent(jobKey, redis.call('HGET', jobKey, 'parentKey'), true)
    removeJobKeys(jobKey)
  end

  -- Parent bookkeeping of a finished child (§9.9 step 8). completed: the
  -- child's return value goes to the parent's :processed; failed: the
  -- child's policy flags (fpof, cpof, idof, rdof) decide. Every branch acts
  -- only when the child was still one of the parent's dependencies; the
  -- failure policies also need the parent hash to exist, so nothing is ever
  -- written into a removed parent. A failed child without a policy stays a
  -- dependency (see detachFromParent for when it is removed).
  local function updateParent(jobKey, parentKey, parentJSON, completed, value, now)
    local pid, pq, parent
    if parentJSON then
      local ok, p = pcall(cjson.decode, parentJSON)
      if ok and type(p) == 'table' and p.queueKey and p.id then
        parent = p
        pid = tostring(p.id)
        pq = p.queueKey
      end
    end
    if completed then
      if not parentKey or parentKey == '' then
        return
      end
      if not pid then
        -- no usable parent JSON: the parent key alone says where it is
        local prefix
        pid, prefix = splitJobKey(parentKey)
        pq = string.sub(prefix, 1, #prefix - 1)
      end
      local deps = parentKey .. ':dependencies'
      if redis.call('SREM', deps, jobKey) == 1 then
        redis.call('HSET', parentKey .. ':processed', jobKey, value)
        if redis.call('SCARD', deps) == 0 and redis.call('EXISTS', parentKey) == 1
          and redis.call('ZREM', pq .. ':waiting-children', pid) == 1 then
          releaseParent(pq, parentKey, pid, now)
        end
      end
      return
    end
    if not parent or not (parent.fpof or parent.cpof or parent.idof or parent.rdof) then
      return
    end
    -- the failure policies address the parent by its JSON (queueKey:id)
    local pkey = pq .. ':' .. pid
    local deps = pkey .. ':dependencies'
    if redis.call('SREM', deps, jobKey) == 0 or redis.call('EXISTS', pkey) == 0 then
      return
    end
    local wc = pq .. ':waiting-children'
    if parent.fpof then
      redis.call('ZADD', pkey .. ':unsuccessful', now, jobKey)
      local from = nil
      if redis.call('ZREM', wc, pid) == 1 then
        from = wc
      elseif redis.call('ZREM', pq .. ':delayed', pid) == 1 then
        from = pq .. ':delayed'
        redis.call('HSET', pkey, 'delay', 0)
      end
      if from or not redis.call('ZSCORE', pq .. ':failed', pid) then
        redis.call('HSET', pkey, 'defa', 'child ' .. jobKey .. ' failed')
      end
      if from then
        releaseParent(pq, pkey, pid, now)
      end
    elseif parent.cpof then
      redis.call('HSET', pkey .. ':failed', jobKey, value)
      if redis.call('ZREM', wc, pid) == 1 then
        releaseParent(pq, pkey, pid, now)
      end
    else
      if parent.idof then
        redis.call('HSET', pkey .. ':failed', jobKey, value)
      end
      if redis.call('SCARD', deps) == 0 and redis.call('ZREM', wc, pid) == 1 then
        releaseParent(pq, pkey, pid, now)
      end
    end
  end

  -- keepLastIfActive (§9.5, §9.9 step 7): when the owner of dedup id `deid`
  -- finishes and an add was stashed in `dn:<deid>` meanwhile, create that job
  -- now with the stashed id, point the de key at it, and drop the stash.
  -- The counter is incremented as for any add.
  local function requeueStashed(prefix, deid, now, maxEv)
    local dnKey = prefix .. 'dn:' .. deid
    if redis.call('EXISTS', dnKey) == 0 then
      return
    end
    local s = redis.call('HMGET', dnKey, 'name', 'data', 'opts', 'pk', 'pd', 'pdk', 'rjk', 'jid')
    local counter = redis.call('INCR', P .. 'id')
    local id = s[8] or tostring(counter)
    local optsJSON = s[3] or '{}'
    local ok, o = pcall(cjson.decode, optsJSON)
    if not ok or type(o) ~= 'table' then
      o = {}
    end
    local de = o['de']
    if type(de) ~= 'table' then
      de = {}
    end
    local deKey = prefix .. 'de:' .. deid
    local ttl = tonumber(de['ttl'])
    if not de['keepLastIfActive'] and ttl and ttl > 0 then
      redis.call('SET', deKey, id, 'PX', ttl)
    else
      redis.call('SET', deKey, id)
    end
    local delay = tonumber(o['delay']) or 0
    local priority = tonumber(o['priority']) or 0
    local jobKey = prefix .. id
    local name = s[1] or ''
    local fields = {'name', name, 'data', s[2] or '{}', 'opts', optsJSON, 'timestamp', now,
      'delay', delay, 'priority', priority}
    if s[4] then
      fields[#fields + 1] = 'parentKey'
      fields[#fields + 1] = s[4]
      fields[#fields + 1] = 'parent'
      fields[#fields + 1] = s[5] or ''
    end
    if s[7] then
      fields[#fields + 1] = 'rjk'
      fields[#fields + 1] = s[7]
    end
    if de['id'] then
      fields[#fields + 1] = 'deid'
      fields[#fields + 1] = tostring(de['id'])
    end
    redis.call('HSET', jobKey, unpack(fields))
    emit(Q.events, nil, 'added', 'jobId', id, 'name', name)
    if delay ~= 0 then
      local due = now
      if delay > 0 then
        due = now + delay
      end
      redis.call('ZADD', Q.delayed, delayedScore(Q.delayed, due), id)
      emit(Q.events, maxEv, 'delayed', 'jobId', id, 'delay', due)
      marker1(Q.marker, Q.delayed)
    else
      enqueueReady(Q.wait, P .. 'prioritized', P .. 'pc', Q.marker, id, priority, o['lifo'] == true,
        pausedOrMaxed(Q.meta, Q.active))
      emit(Q.events, maxEv, 'waiting', 'jobId', id)
    end
    if s[6] then
      redis.call('SADD', s[6], jobKey)
    end
    redis.call('DEL', dnKey)
  end

  flow = {updateParent = updateParent, detachFromParent = detachFromParent,
    removeFinished = removeFinished, requeueStashed = requeueStashed}
  return flow
end
