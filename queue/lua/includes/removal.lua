-- Shared functions for removing jobs (Queue.Remove, Drain, Clean,
-- Obliterate; protocol §9.15, §9.16). Written for this project from the
-- protocol text. Needs the "common" include first.
--@include "ready"

-- The id and the queue prefix "P:q:" of a job key "P:q:id" (the id is
-- what follows the last colon, as BullMQ reads it).
local function splitJobKey(jobKey)
  local id = string.match(jobKey, '.*:(.*)') or ''
  return id, string.sub(jobKey, 1, #jobKey - #id)
end

-- Whether job id is the current (next) iteration of a live job scheduler:
-- its `rjk`'s score in the repeat zset names it.
local function isCurrentIteration(prefix, id)
  local rjk = redis.call('HGET', prefix .. id, 'rjk')
  if not rjk then
    return false
  end
  local millis = redis.call('ZSCORE', prefix .. 'repeat', rjk)
  return millis ~= false and millis ~= nil and id == 'repeat:' .. rjk .. ':' .. millis
end

-- The deduplication key (and its stashed next job) go with the job that
-- owns them.
local function releaseDedupOnRemoval(prefix, id, deid)
  if deid then
    local deKey = prefix .. 'de:' .. deid
    if redis.call('GET', deKey) == id then
      redis.call('DEL', deKey, prefix .. 'dn:' .. deid)
    end
  end
end

-- Detach a removed job from its parent (BullMQ's rules): SREM it from the
-- parent's dependencies; when that was the last one and the parent is in
-- its waiting-children:
--   hard (drain, clean, obliterate): a parent of the same queue (prefix)
--     is deleted too (and detached from its own parent), one of another
--     queue goes to the tail of its wait without an event;
--   not hard (remove): the parent goes to the tail of its wait with
--     `waiting` prev=`waiting-children`.
-- parentKey nil: read it from the job, and act only when the parent hash
-- exists. Returns true when the job was one of the parent's dependencies.
local function detachFromParentOnRemoval(jobKey, hard, parentKey, prefix)
  local deid
  if not parentKey then
    local f = redis.call('HMGET', jobKey, 'parentKey', 'deid')
    parentKey, deid = f[1], f[2]
    if type(parentKey) ~= 'string' or parentKey == '' or redis.call('EXISTS', parentKey) == 0 then
      return false
    end
  end
  local deps = parentKey .. ':dependencies'
  if redis.call('SREM', deps, jobKey) == 0 then
    return false
  end
  if redis.call('SCARD', deps) ~= 0 then
    return true
  end
  local pid, pq = splitJobKey(parentKey)
  if redis.call('ZREM', pq .. 'waiting-children', pid) == 0 then
    return true
  end
  if hard and pq == prefix then
    detachFromParentOnRemoval(parentKey, true, nil, prefix)
    removeJobKeys(parentKey)
    if deid then
      redis.call('DEL', pq .. 'de:' .. deid)
    end
    return true
  end
  local pm = pausedOrMaxed(pq .. 'meta', pq .. 'active')
  redis.call('RPUSH', pq .. 'wait', pid)
  marker0(pq .. 'marker', pm)
  if not hard then
    emit(pq .. 'events', nil, 'waiting', 'jobId', pid, 'prev', 'waiting-children')
  end
  return true
end

-- Hard removal of one job whose id the caller takes out of its state key
-- (drain, clean, obliterate): detach from the parent, release its dedup
-- key, delete its keys. No event.
local function removeJobHard(prefix, id)
  local jobKey = prefix .. id
  detachFromParentOnRemoval(jobKey, true, nil, prefix)
  releaseDedupOnRemoval(prefix, id, redis.call('HGET', jobKey, 'deid'))
  removeJobKeys(jobKey)
end

-- Take id out of the first state that holds it; returns that state's key
-- name, or 'unknown'.
local function removeFromAnyState(prefix, id)
  for _, s in ipairs({'completed', 'waiting-children', 'delayed', 'failed', 'prioritized'}) do
    if redis.call('ZREM', prefix .. s, id) == 1 then
      return s
    end
  end
  for _, s in ipairs({'wait', 'paused', 'active'}) do
    if redis.call('LREM', prefix .. s, 1, id) == 1 then
      return s
    end
  end
  return 'unknown'
end

-- Whether job id, or (withChildren) one of its pending children, down
-- the tree, is locked by a worker. depth bounds the recursion.
local function treeLocked(prefix, id, withChildren, depth)
  local jobKey = prefix .. id
  if redis.call('EXISTS', jobKey .. ':lock') == 1 then
    return true
  end
  if withChildren and depth < 1000 then
    for _, childKey in ipairs(redis.call('SMEMBERS', jobKey .. ':dependencies')) do
      local cid, cprefix = splitJobKey(childKey)
      if treeLocked(cprefix, cid, true, depth + 1) then
        return true
      end
    end
  end
  return false
end

-- Remove job id as BullMQ's job.remove() does: detach it from its parent
-- (parentKey: the parent being removed, or nil), remove its children
-- first when withChildren (processed, ignored-failed, unsuccessful, then
-- pending ones, each recursively), take it out of its state, release its
-- dedup key, delete its keys and, when there were any, emit `removed`
-- with prev = the state it left. Returns the number of keys deleted.
local function removeWithChildren(prefix, id, parentKey, withChildren, depth)
  local jobKey = prefix .. id
  detachFromParentOnRemoval(jobKey, false, parentKey, prefix)
  if withChildren and depth < 1000 then
    local children = {}
    local processed = redis.call('HKEYS', jobKey .. ':processed')
    for _, k in ipairs(processed) do children[#children + 1] = k end
    for _, k in ipairs(redis.call('HKEYS', jobKey .. ':failed')) do children[#children + 1] = k end
    for _, k in ipairs(redis.call('ZRANGE', jobKey .. ':unsuccessful', 0, -1)) do children[#children + 1] = k end
    for _, k in ipairs(redis.call('SMEMBERS', jobKey .. ':dependencies')) do children[#children + 1] = k end
    for _, childKey in ipairs(children) do
      local cid, cprefix = splitJobKey(childKey)
      removeWithChildren(cprefix, cid, jobKey, true, depth + 1)
    end
  end
  local prev = removeFromAnyState(prefix, id)
  releaseDedupOnRemoval(prefix, id, redis.call('HGET', jobKey, 'deid'))
  local n = removeJobKeys(jobKey)
  if n > 0 then
    emit(prefix .. 'events', maxEvents(prefix .. 'meta'), 'removed', 'jobId', id, 'prev', prev)
  end
  return n, prev
end
