-- addLog: append a log line to a job, keeping the last keepLogs lines
-- (protocol §9.18). Written for this project from the protocol text.
-- KEYS[1] the job hash  KEYS[2] its :logs list
-- ARGV[1] line  ARGV[2] keepLogs (0 = all)
-- Returns the number of lines kept, or -1 when the job does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local n = redis.call('RPUSH', KEYS[2], ARGV[1])
local keep = tonumber(ARGV[2]) or 0
if keep > 0 then
  redis.call('LTRIM', KEYS[2], -keep, -1)
  if n > keep then
    return keep
  end
end
return n
