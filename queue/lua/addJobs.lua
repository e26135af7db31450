-- addJobs: add several jobs in one call (Queue.AddBulk), each exactly as
-- its own addJob call would, in order; the call's fixed cost and the meta
-- read are paid once. Written for this project from the protocol text.
--
-- KEYS[1] meta (for Cluster routing).
-- ARGV[1] key prefix "P:N:"; then per job: the number n of its arguments,
-- then addJob's ARGV[2..n+1] (see addJob.lua).
-- Returns one addJob reply per job, in order.
--@include "common"
--@include "add"

local prefix = ARGV[1]
local meta, maxEv = addMeta(KEYS[1])
-- every add increments the id counter once, in order: one INCRBY for all
local jobs = {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  jobs[#jobs + 1] = {prefix, unpack(ARGV, i + 1, i + n)}
  i = i + n + 1
end
local counter = redis.call('INCRBY', prefix .. 'id', #jobs) - #jobs
local ready = {left = {}, right = {}}
local out = {}
for k, A in ipairs(jobs) do
  out[k] = addOne(A, meta, maxEv, counter + k, ready)
end
flushReady(prefix .. 'wait', ready)
return out
