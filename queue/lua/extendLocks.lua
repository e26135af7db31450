-- extendLocks: renew the locks of a worker's active jobs in one call
-- (protocol §9.8). Written for this project from the protocol text.
--
-- KEYS[1] stalled
-- ARGV[1] key prefix  ARGV[2] lock duration (ms)
-- ARGV[3], ARGV[4], … pairs of job id and lock token.
-- Returns the ids whose lock was missing or held by another token.
local prefix = ARGV[1]
local duration = tonumber(ARGV[2])
local failed = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lockKey = prefix .. id .. ':lock'
  if redis.call('GET', lockKey) == token then
    redis.call('SET', lockKey, token, 'PX', duration)
    redis.call('SREM', KEYS[1], id)
  else
    failed[#failed + 1] = id
  end
end
return failed
