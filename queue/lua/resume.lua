-- resume: clear the paused flag, migrate a legacy v5 `paused` list into
-- `wait` (7000 per call), and wake workers (protocol §9.13).
-- KEYS[1] meta KEYS[2] marker KEYS[3] events KEYS[4] wait KEYS[5] paused
-- KEYS[6] prioritized KEYS[7] delayed
-- ARGV[1] "1" to emit `resumed`. Returns how many legacy entries remain.
redis.call('HDEL', KEYS[1], 'paused')
local left = 0
if redis.call('EXISTS', KEYS[5]) == 1 then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('RENAME', KEYS[5], KEYS[4])
  else
    local ids = redis.call('LRANGE', KEYS[5], 0, 6999)
    if #ids > 0 then
      redis.call('RPUSH', KEYS[4], unpack(ids))
      redis.call('LTRIM', KEYS[5], #ids, -1)
    end
    left = redis.call('LLEN', KEYS[5])
  end
end
if redis.call('LLEN', KEYS[4]) + redis.call('ZCARD', KEYS[6]) > 0 then
  redis.call('ZADD', KEYS[2], 0, '0')
else
  local first = redis.call('ZRANGE', KEYS[7], 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', KEYS[2], math.floor(tonumber(first[2]) / 4096), '1')
  end
end
if ARGV[1] == '1' then
  redis.call('XADD', KEYS[3], '*', 'event', 'resumed')
end
return left
