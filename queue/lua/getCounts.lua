-- getCounts: the size of each named state (Queue.GetJobCounts).
-- KEYS[1] the queue's key base "P:N:"
-- ARGV: state key suffixes (wait, paused, active, delayed, …)
-- Returns one count per suffix. A wait/paused list whose tail is the
-- legacy "0:…" marker loses it first (as Node's getCounts does).
local base = KEYS[1]
local out = {}

-- dropLegacyMarker pops a v5 marker off a wait/paused list's tail and
-- returns the list's length after that.
local function listLen(key)
  local tail = redis.call('LINDEX', key, -1)
  if tail and string.sub(tail, 1, 2) == '0:' then
    local n = redis.call('LLEN', key)
    if n > 1 then
      redis.call('RPOP', key)
      return n - 1
    end
    return 0
  end
  return redis.call('LLEN', key)
end

for i = 1, #ARGV do
  local s = ARGV[i]
  local key = base .. s
  if s == 'wait' or s == 'paused' then
    out[i] = listLen(key)
  elseif s == 'active' then
    out[i] = redis.call('LLEN', key)
  else
    out[i] = redis.call('ZCARD', key)
  end
end
return out
