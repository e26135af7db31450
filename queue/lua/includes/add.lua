-- Adding one job (protocol §9.1–9.5), shared by addJob (one job per
-- call) and addJobs (several). Written for this project from the protocol
-- text. Needs the "common" include first.

-- The "ready" functions, for the adds most adds are not (delayed,
-- prioritized, deduplicated), built only when an add needs them, once per
-- call: every function a script defines at its top level is a closure
-- built on every call, with its upvalues bound.
local addColdT
local function addCold()
  if addColdT then
    return addColdT
  end
  --@include "ready"
  addColdT = {marker1 = marker1, delayedScore = delayedScore, enqueueReady = enqueueReady}
  return addColdT
end

-- The meta fields an add reads (one HMGET per call): events bound,
-- paused, global concurrency; and the events MAXLEN, written when absent.
local function addMeta(metaKey)
  local meta = redis.call('HMGET', metaKey, 'opts.maxLenEvents', 'paused', 'concurrency')
  local maxEv, absent = maxLenArg(meta[1])
  if absent then
    redis.call('HSET', metaKey, 'opts.maxLenEvents', maxEv)
  end
  return meta, maxEv
end

-- Whether this call already wrote the ready marker (a second write of the
-- same member and score would change nothing: addJobs writes it once).
local addMarked = false

-- Add one job. A is addJob's ARGV (see addJob.lua); meta and maxEv from
-- addMeta. counter: the value of the id counter after this add's
-- increment, nil to INCR it here. ready: nil, or where addJobs collects
-- the ids bound for the wait list ({left = {}, right = {}}, pushed by
-- flushReady). Returns addJob's reply.
local function addOne(A, meta, maxEv, counter, ready)
  local prefix = A[1]
  local kEvents = prefix .. 'events'
  counter = counter or redis.call('INCR', prefix .. 'id')
  local jobId = A[2]
  if jobId == '' then
    jobId = int(counter)
  end
  local jobKey = prefix .. jobId

  if A[2] ~= '' and redis.call('EXISTS', jobKey) == 1 then
    emit(kEvents, maxEv, 'duplicated', 'jobId', jobId)
    return {jobId, 1}
  end

  local timestamp = tonumber(A[4])
  local delay = tonumber(A[7])
  local priority = tonumber(A[8])

  -- Deduplication (§9.5), only for an add that has a dedup id: a
  -- function defined in addOne is a closure built, with its upvalues bound,
  -- every time the statement runs.
  local deid = A[10] or ''

  if deid ~= '' then
    -- Returns the owner id when the add is dropped.
    local function dedup()
      local deKey = prefix .. 'de:' .. deid
      local dnKey = prefix .. 'dn:' .. deid
      local ttl = tonumber(A[11]) or 0
      local extend, replace = A[12] == '1', A[13] == '1'
      local reschedule, keepLast = A[14] == '1', A[15] == '1'
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
        redis.call('HSET', dnKey, 'name', A[3], 'data', A[5], 'opts', A[6], 'jid', jobId)
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
        local c = addCold()
        redis.call('ZADD', (prefix .. 'delayed'), c.delayedScore((prefix .. 'delayed'), due), owner)
        emit(kEvents, maxEv, 'delayed', 'jobId', owner, 'delay', due)
        c.marker1((prefix .. 'marker'), (prefix .. 'delayed'))
      end
      return owner
    end
    local owner = dedup()
    if owner then
      return {owner, 2}
    end
    redis.call('HSET', jobKey, 'name', A[3], 'data', A[5], 'opts', A[6],
      'timestamp', A[4], 'delay', A[7], 'priority', A[8], 'deid', deid)
  else
    redis.call('HSET', jobKey, 'name', A[3], 'data', A[5], 'opts', A[6],
      'timestamp', A[4], 'delay', A[7], 'priority', A[8])
  end
  emit(kEvents, nil, 'added', 'jobId', jobId, 'name', A[3])

  if delay > 0 then
    local due = timestamp + delay
    local c = addCold()
    redis.call('ZADD', (prefix .. 'delayed'), c.delayedScore((prefix .. 'delayed'), due), jobId)
    emit(kEvents, maxEv, 'delayed', 'jobId', jobId, 'delay', due)
    c.marker1((prefix .. 'marker'), (prefix .. 'delayed'))
  else
    local pm = meta[2] and true or false
    if not pm and meta[3] then
      local c = tonumber(meta[3])
      pm = c ~= nil and redis.call('LLEN', (prefix .. 'active')) >= c
    end
    if priority > 0 then
      addCold().enqueueReady((prefix .. 'wait'), (prefix .. 'prioritized'), (prefix .. 'pc'),
        (prefix .. 'marker'), jobId, priority, A[9] == '1', pm or addMarked)
    else
      -- as enqueueReady does for priority 0 (LPUSH, RPUSH when lifo; the
      -- marker unless paused, maxed or already written), or collected
      -- for addJobs' one push
      if ready then
        local side = ready.left
        if A[9] == '1' then
          side = ready.right
        end
        side[#side + 1] = jobId
      elseif A[9] == '1' then
        redis.call('RPUSH', prefix .. 'wait', jobId)
      else
        redis.call('LPUSH', prefix .. 'wait', jobId)
      end
      if not (pm or addMarked) then
        redis.call('ZADD', prefix .. 'marker', '0', '0')
      end
    end
    addMarked = addMarked or not pm
    emit(kEvents, maxEv, 'waiting', 'jobId', jobId)
  end
  return {jobId, 0}
end

-- Push the ids addOne collected onto the wait list: LPUSH and RPUSH work
-- at opposite ends, so one of each, in collection order, leaves the list
-- the jobs' own pushes would (nothing in an add reads the wait list).
local function flushReady(waitKey, ready)
  if #ready.left > 0 then
    redis.call('LPUSH', waitKey, unpack(ready.left))
  end
  if #ready.right > 0 then
    redis.call('RPUSH', waitKey, unpack(ready.right))
  end
end
