-- addJob: store one job and make it ready, delayed or prioritized
-- (protocol §9.1–9.5). Written for this project from the protocol text.
--
-- KEYS[1] meta (for Cluster routing). The queue's other keys (wait, id,
-- delayed, prioritized, pc, marker, events, active) are built from the
-- prefix ARGV[1]: receiving them would cost Redis more than building them.
-- ARGV[1] key prefix "P:N:"   ARGV[2] custom id or ""   ARGV[3] name
-- ARGV[4] timestamp (ms)      ARGV[5] data JSON         ARGV[6] opts JSON
-- ARGV[7] delay (ms)          ARGV[8] priority          ARGV[9] lifo "1"/"0"
-- ARGV[10] deduplication id, "" or absent (no deduplication; ARGV[11..15]
-- are then absent too)
-- ARGV[11] deduplication ttl (ms, 0 = none)
-- ARGV[12] extend "1"/"0"     ARGV[13] replace "1"/"0"
-- ARGV[14] reschedule "1"/"0" ARGV[15] keepLastIfActive "1"/"0"
-- The dedup keys ARGV[1].."de:"..id and ARGV[1].."dn:"..id are derived from
-- the prefix like job keys (so one hash slot with a "{…}" prefix).
-- Returns {jobId, 0} for a stored job, {jobId, 1} when the custom id existed
-- (nothing changed; a `duplicated` event was written), {ownerId, 2} when
-- deduplication kept (or stashed behind) the existing owner and stored
-- nothing new.
--@include "common"
--@include "add"

local meta, maxEv = addMeta(KEYS[1])
return addOne(ARGV, meta, maxEv)
