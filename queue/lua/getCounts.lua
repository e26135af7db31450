-- getCounts: the size of each named state (Queue.GetJobCounts).
-- KEYS[1] the queue's key base "P:N:"
-- ARGV: state key suffixes (wait, paused, active, delayed, …)
-- Returns one count per suffix. A wait/paused list whose tail is the
-- legacy "0:…" marker loses it first (as Node's getCounts does).
--@include "common"
local base = KEYS[1]
local out = {}

for i = 1, #ARGV do
  local s = ARGV[i]
  local key = base .. s
  if s == 'wait' or s == 'paused' then
    out[i] = dropLegacyMarker(key) or redis.call('LLEN', key)
  elseif s == 'active' then
    out[i] = redis.call('LLEN', key)
  else
    out[i] = redis.call('ZCARD', key)
  end
end
return out
