-- stalledCheck: recover active jobs whose lock is gone, whoever left them
-- (protocol §9.12). Two phases: ids snapshotted into `stalled` by the last
-- run that still have no lock now are moved back to wait; then every
-- active id is snapshotted for the next run. Written for this project from
-- the protocol text.
--
-- KEYS: the worker layout (includes/worker.lua).
-- ARGV[1] key prefix  ARGV[2] maxStalledCount  ARGV[3] now (ms)
-- ARGV[4] stalled interval (ms)
-- ARGV[5] "1" to run even when another checker ran this interval (a
-- starting worker's first check: the key may be a dead worker's); absent
-- or "0" otherwise (Node never passes it).
-- Returns the recovered job ids ({} when another checker ran this
-- interval).
--@include "common"
--@include "ready"
--@include "worker"

local prefix = ARGV[1]
local maxStalled = tonumber(ARGV[2])
local checkKey = prefix .. 'stalled-check'
if ARGV[5] ~= '1' and redis.call('EXISTS', checkKey) == 1 then
  return {}
end
redis.call('SET', checkKey, ARGV[3], 'PX', tonumber(ARGV[4]))
local maxEv = maxEvents(Q.meta)
redis.call('XTRIM', Q.events, 'MAXLEN', '~', maxEv)

local recovered = {}
local ids = redis.call('SMEMBERS', Q.stalled)
if #ids > 0 then
  redis.call('DEL', Q.stalled)
  for _, id in ipairs(ids) do
    if string.sub(id, 1, 2) == '0:' then
      redis.call('LREM', Q.active, 1, id)
    else
      local jobKey = prefix .. id
      if redis.call('EXISTS', jobKey .. ':lock') == 0
        and redis.call('LREM', Q.active, 1, id) > 0 then
        local stc = redis.call('HINCRBY', jobKey, 'stc', 1)
        if stc > maxStalled then
          local rjk = redis.call('HGET', jobKey, 'rjk')
          local live = rjk and (redis.call('EXISTS', prefix .. 'repeat:' .. rjk) == 1
            or redis.call('ZSCORE', prefix .. 'repeat', rjk))
          if not live then
            redis.call('HSET', jobKey, 'defa', 'job stalled more than allowable limit')
          end
        end
        redis.call('RPUSH', Q.wait, id)
        -- paused or maxed is decided now that this job has left active,
        -- so a queue at its global concurrency gets its marker
        marker0(Q.marker, pausedOrMaxed(Q.meta, Q.active))
        emit(Q.events, nil, 'waiting', 'jobId', id, 'prev', 'active')
        emit(Q.events, nil, 'stalled', 'jobId', id)
        recovered[#recovered + 1] = id
      end
    end
  end
end

local n = redis.call('LLEN', Q.active)
for start = 0, n - 1, 7000 do
  local batch = redis.call('LRANGE', Q.active, start, start + 6999)
  if #batch > 0 then
    redis.call('SADD', Q.stalled, unpack(batch))
  end
end
return recovered
