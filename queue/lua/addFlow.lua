-- addFlow: store a whole flow (one or several trees of jobs, across queues)
-- in one atomic call (protocol §9.1–9.6, §9.20). Written for this project
-- from the protocol text.
--
-- The writes equal those of Node's FlowProducer MULTI (one add per node,
-- parents first, then the "release parent if no pending dependency" step
-- per parent), with one difference: every precondition is checked before
-- anything is written, so a refused flow leaves Redis untouched (Node's
-- MULTI keeps the nodes added before the failing one).
--
-- KEYS[1] the meta key of the first node's queue (for Cluster routing; all
-- the flow's keys share one slot, checked by the client).
-- ARGV[1] now (ms)   ARGV[2] number of nodes
-- then 13 values per node, parents before their children:
--   prefix "P:N:", job id, name, timestamp, data JSON, opts JSON, delay,
--   priority, lifo "1"/"0", parent queue "P:N" or "", parent id or "",
--   parent JSON or "", "1" when the node has children.
-- Returns {0, ''} when stored, else {code, jobId}: -5 the parent of node
-- jobId does not exist; -7 node jobId exists with another live parent.
--@include "common"
--@include "ready"

local now = ARGV[1]
local n = tonumber(ARGV[2])
local W = 13

local function node(i)
  local b = 2 + (i - 1) * W
  local pq, pid = ARGV[b + 10], ARGV[b + 11]
  local pk = ''
  if pq ~= '' then
    pk = pq .. ':' .. pid
  end
  return {prefix = ARGV[b + 1], id = ARGV[b + 2], name = ARGV[b + 3], ts = ARGV[b + 4],
    data = ARGV[b + 5], opts = ARGV[b + 6], delay = tonumber(ARGV[b + 7]),
    priority = tonumber(ARGV[b + 8]), lifo = ARGV[b + 9] == '1', pq = pq, pid = pid, pk = pk,
    parentJSON = ARGV[b + 12], isParent = ARGV[b + 13] == '1'}
end

-- Checks first: nothing is written when one fails.
local created = {}
for i = 1, n do
  local j = node(i)
  if j.pk ~= '' and not created[j.pk] and redis.call('EXISTS', j.pk) == 0 then
    return {-5, j.id}
  end
  local jobKey = j.prefix .. j.id
  if j.pk ~= '' and redis.call('EXISTS', jobKey) == 1 then
    local ep = redis.call('HGET', jobKey, 'parentKey')
    if ep and ep ~= j.pk and redis.call('EXISTS', ep) == 1 then
      return {-7, j.id}
    end
  end
  created[jobKey] = true
end

-- Release a parent out of waiting-children into its queue (the same rules
-- as a worker's release, §9.9 step 8): delayed when it has a delay, else
-- prioritized or the tail of wait.
local function releaseParent(pq, parentKey, parentId)
  local p = pq .. ':'
  local f = redis.call('HMGET', parentKey, 'delay', 'priority')
  local delay = tonumber(f[1]) or 0
  local priority = tonumber(f[2]) or 0
  if delay > 0 then
    local due = tonumber(now) + delay
    redis.call('ZADD', p .. 'delayed', due * 4096, parentId)
    emit(p .. 'events', nil, 'delayed', 'jobId', parentId, 'delay', due)
    marker1(p .. 'marker', p .. 'delayed')
    return
  end
  local pm = pausedOrMaxed(p .. 'meta', p .. 'active')
  if priority > 0 then
    redis.call('ZADD', p .. 'prioritized', priorityScore(p .. 'pc', priority), parentId)
  else
    redis.call('RPUSH', p .. 'wait', parentId)
  end
  marker0(p .. 'marker', pm)
  emit(p .. 'events', nil, 'waiting', 'jobId', parentId, 'prev', 'waiting-children')
end

local parents, parentOrder = {}, {}
for i = 1, n do
  local j = node(i)
  local prefix = j.prefix
  redis.call('INCR', prefix .. 'id')
  local maxEv = maxEvents(prefix .. 'meta')
  local jobKey = prefix .. j.id
  if j.pk ~= '' and not parents[j.pk] then
    parents[j.pk] = j
    parentOrder[#parentOrder + 1] = j.pk
  end
  if redis.call('EXISTS', jobKey) == 1 then
    -- §9.4: attach the existing job to its new parent; a completed one only
    -- records its value (the parent is released after the whole flow).
    if j.pk ~= '' then
      if redis.call('ZSCORE', prefix .. 'completed', j.id) then
        redis.call('HSET', j.pk .. ':processed', jobKey,
          redis.call('HGET', jobKey, 'returnvalue') or 'null')
      else
        redis.call('SADD', j.pk .. ':dependencies', jobKey)
      end
      redis.call('HSET', jobKey, 'parentKey', j.pk, 'parent', j.parentJSON)
    end
    emit(prefix .. 'events', maxEv, 'duplicated', 'jobId', j.id)
  else
    local fields = {'name', j.name, 'data', j.data, 'opts', j.opts, 'timestamp', j.ts,
      'delay', j.delay, 'priority', j.priority}
    if j.pk ~= '' then
      fields[#fields + 1] = 'parentKey'
      fields[#fields + 1] = j.pk
      fields[#fields + 1] = 'parent'
      fields[#fields + 1] = j.parentJSON
    end
    redis.call('HSET', jobKey, unpack(fields))
    emit(prefix .. 'events', nil, 'added', 'jobId', j.id, 'name', j.name)
    if j.isParent then
      redis.call('ZADD', prefix .. 'waiting-children', j.ts, j.id)
      emit(prefix .. 'events', maxEv, 'waiting-children', 'jobId', j.id)
    elseif j.delay > 0 then
      local due = tonumber(j.ts) + j.delay
      redis.call('ZADD', prefix .. 'delayed', delayedScore(prefix .. 'delayed', due), j.id)
      emit(prefix .. 'events', maxEv, 'delayed', 'jobId', j.id, 'delay', due)
      marker1(prefix .. 'marker', prefix .. 'delayed')
    else
      enqueueReady(prefix .. 'wait', prefix .. 'prioritized', prefix .. 'pc', prefix .. 'marker', j.id,
        j.priority, j.lifo, pausedOrMaxed(prefix .. 'meta', prefix .. 'active'))
      emit(prefix .. 'events', maxEv, 'waiting', 'jobId', j.id)
    end
    if j.pk ~= '' then
      redis.call('SADD', j.pk .. ':dependencies', jobKey)
    end
  end
end

-- A parent whose children were all already completed has nothing to wait
-- for: release it now that the whole flow is stored.
for _, pk in ipairs(parentOrder) do
  local j = parents[pk]
  if redis.call('SCARD', pk .. ':dependencies') == 0 and redis.call('EXISTS', pk) == 1
    and redis.call('ZREM', j.pq .. ':waiting-children', j.pid) == 1 then
    releaseParent(j.pq, pk, j.pid)
  end
end
return {0, ''}
