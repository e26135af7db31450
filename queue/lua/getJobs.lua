-- getJobs: one page of jobs per state, ids with their hashes read in the
-- same script (Queue.GetJobs). Ids without a hash are skipped; for a
-- bounded page the range is walked on (at most ARGV[4] reads) so the page
-- keeps its size when possible.
-- KEYS[1] the queue's key base "P:N:"
-- ARGV[1] start  ARGV[2] end  ARGV[3] "1" oldest first  ARGV[4] max reads
-- ARGV[5…] state key suffixes (wait, paused, active, delayed, …)
-- Returns, per state, a list of {id, {field, value, …}}.
--@include "common"
local base = KEYS[1]
local first, last = tonumber(ARGV[1]), tonumber(ARGV[2])
local oldestFirst = ARGV[3] == '1'
local maxReads = tonumber(ARGV[4])

local function isList(s)
  return s == 'wait' or s == 'paused' or s == 'active'
end

-- ids in [a, b] of the state, in the requested order. Lists hold the
-- newest job at the head: oldest-first reads the mirrored range and
-- reverses it.
local function slice(key, s, a, b, len)
  if isList(s) then
    if not oldestFirst then
      return redis.call('LRANGE', key, a, b)
    end
    if len and a >= 0 and b >= 0 and a >= len then
      return {}
    end
    local from, to = 0, 0
    if b ~= -1 then from = -(b + 1) end
    if a ~= -1 then to = -(a + 1) end
    local ids = redis.call('LRANGE', key, from, to)
    local rev = {}
    for i = #ids, 1, -1 do rev[#rev + 1] = ids[i] end
    return rev
  end
  if oldestFirst then
    return redis.call('ZRANGE', key, a, b)
  end
  return redis.call('ZREVRANGE', key, a, b)
end

local function add(entries, id)
  local h = redis.call('HGETALL', base .. id)
  if #h > 0 then entries[#entries + 1] = {id, h} end
end

local function collect(s)
  local key = base .. s
  local entries = {}
  local len = nil
  if s == 'wait' or s == 'paused' then len = dropLegacyMarker(key) end
  if oldestFirst and isList(s) and first >= 0 and last >= 0 and len == nil then
    len = redis.call('LLEN', key)
  end
  if first < 0 or last < 0 then
    local ids = slice(key, s, first, last, len)
    for i = 1, #ids do add(entries, ids[i]) end
    return entries
  end
  local want = last - first + 1
  local at, reads = first, 0
  while #entries < want and reads < maxReads do
    local ids = slice(key, s, at, at + want - 1, len)
    if #ids == 0 then break end
    for i = 1, #ids do
      if #entries >= want then break end
      add(entries, ids[i])
    end
    at = at + #ids
    reads = reads + 1
  end
  return entries
end

local out = {}
for i = 5, #ARGV do
  out[#out + 1] = collect(ARGV[i])
end
return out
