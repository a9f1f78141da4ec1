-- Store one comment with all its indexes, or nothing at all.
-- KEYS: 1 comment, 2 parent comment (or KEYS[1] when there is none), 3 status index,
--       4 thread's published index, 5 roots of the thread or the parent's replies,
--       6 the commenter's comments, 7 the thread's index for this status,
--       8 the status's uncertainty index, 9 hourly activity counts,
--       10 the thread's uncertainty index for this status,
--       11 the idempotency key's record (or KEYS[1] when the client sent none)
-- ARGV: 1 id, 2 status, 3 created (ms), 4 thread, 5 "1" if there is a parent,
--       6 deepest reply level allowed, 7 distance of the score from 0.5,
--       8 the id zero-padded (equal distances then sort by id), 9 the hour (epoch hours),
--       10 "1" when KEYS[11] is an idempotency key, else "",
--       11 how long the idempotency key is remembered (seconds),
--       12.. field/value pairs
-- Returns 'ok', an error word, or {'replay', id} when this idempotency key already stored
-- this submission: a retry after a timeout must not store it twice.
if ARGV[10] == '1' then
  local earlier = redis.call('GET', KEYS[11])
  if earlier then
    return {'replay', earlier}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('comment id already used')
end
local depth = 0
if ARGV[5] == '1' then
  local parent = redis.call('HMGET', KEYS[2], 'thread', 'depth')
  if not parent[1] then
    return 'no_parent'
  end
  if parent[1] ~= ARGV[4] then
    return 'parent_in_other_thread'
  end
  depth = (tonumber(parent[2]) or 0) + 1
  if depth > tonumber(ARGV[6]) then
    return 'too_deep'
  end
end
redis.call('HSET', KEYS[1], 'depth', depth, unpack(ARGV, 12))
-- Ids grow with time, so scoring by id orders oldest first and makes cursors exact.
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[8], ARGV[7], ARGV[8])
redis.call('ZADD', KEYS[10], ARGV[7], ARGV[8])
if ARGV[10] == '1' then
  redis.call('SET', KEYS[11], ARGV[1], 'EX', ARGV[11])
end
if ARGV[2] == 'published' then
  redis.call('ZADD', KEYS[4], ARGV[1], ARGV[1])
  redis.call('ZADD', KEYS[5], ARGV[1], ARGV[1])
end
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
if ARGV[2] == 'pending' then
  redis.call('HINCRBY', KEYS[9], ARGV[9] .. ':in', 1)
  -- Keep about a week of hours: each write drops the counts of the same hour 8 days ago.
  redis.call('HDEL', KEYS[9], (tonumber(ARGV[9]) - 192) .. ':in', (tonumber(ARGV[9]) - 192) .. ':out')
end
return 'ok'
