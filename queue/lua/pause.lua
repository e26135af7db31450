-- pause: flag the queue paused and delete the marker (protocol §9.13, v6:
-- lists are not touched).
-- KEYS[1] meta  KEYS[2] marker  KEYS[3] events
redis.call('HSET', KEYS[1], 'paused', 1)
redis.call('DEL', KEYS[2])
redis.call('XADD', KEYS[3], '*', 'event', 'paused')
return 0
