-- moveToActive: fetch the next job for a worker (protocol §9.7). Written
-- for this project from the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix "P:N:"  ARGV[2] now (ms)  ARGV[3] lock token
-- ARGV[4] lock duration (ms) ARGV[5] worker limiter max (0 = none)
-- ARGV[6] worker limiter duration (ms, 0 = none) ARGV[7] worker name or ""
-- ARGV[5..7] may be left out from the end when 0 / "" (see trimArgs).
-- Returns {fields, jobId, 0, 0} for a fetched job (fields = HGETALL as a
-- flat array), {0, 0, ttl, 0} when rate limited, {0, 0, 0, nextDelayedMs}
-- otherwise (0 when nothing is delayed; also when paused or maxed).
--@include "common"
--@include "worker"

local r = fetchJob(readMeta(), ARGV[1], tonumber(ARGV[2]), ARGV[2], ARGV[3], ARGV[4],
  tonumber(ARGV[5] or 0), tonumber(ARGV[6] or 0), ARGV[7] or '')
return r
