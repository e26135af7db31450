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
local out = {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = addOne({prefix, unpack(ARGV, i + 1, i + n)}, meta, maxEv)
  i = i + n + 1
end
return out
