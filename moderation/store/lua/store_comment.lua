-- Store one comment with all its indexes, or nothing at all.
-- KEYS: 1 comment, 2 parent comment (or KEYS[1] when there is none), 3 status index,
--       4 thread's published index, 5 roots of the thread or the parent's replies,
--       6 the commenter's comments, 7 the thread's index for this status,
--       8 the status's uncertainty index, 9 hourly activity counts,
--       10 the thread's uncertainty index for this status,
--       11 the idempotency key's record (or KEYS[1] when the client sent none),
--       12 the IP's flood key, 13 the commenter's flood key, 14 the duplicate fingerprint,
--       15 the IP's held comments, 16 the commenter's held comments (12 and 15 are
--       KEYS[1] when the IP is not known)
-- ARGV: 1 id, 2 status, 3 created (ms), 4 thread, 5 "1" if there is a parent,
--       6 deepest reply level allowed, 7 distance of the score from 0.5,
--       8 the id zero-padded (equal distances then sort by id), 9 the hour (epoch hours),
--       10 "1" when KEYS[11] is an idempotency key, else "",
--       11 how long the idempotency key is remembered (seconds),
--       12 flood interval (ms), 13 how long a fingerprint is remembered (seconds),
--       14 most held comments per IP and per commenter, 15 in this window (ms): 0 is off,
--       16 "1" when the IP is known, else "",
--       17.. field/value pairs
-- Returns 'ok', an error word, or {'replay', id} when this idempotency key already stored
-- this submission: a retry after a timeout must not store it twice. A limit's refusal is
-- 'duplicate', {'flood', ms to wait} or {'too_many_pending', ms to wait}; every check comes
-- before the first write, so a refused comment leaves nothing behind.
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
local flood_ms = tonumber(ARGV[12])
local duplicate_s = tonumber(ARGV[13])
local max_pending = tonumber(ARGV[14])
local held_since = tonumber(ARGV[3]) - tonumber(ARGV[15])
local held_keys = {KEYS[16]}
local flood_keys = {KEYS[13]}
if ARGV[16] == '1' then
  held_keys[2] = KEYS[15]
  flood_keys[2] = KEYS[12]
end
if duplicate_s > 0 and redis.call('EXISTS', KEYS[14]) == 1 then
  return 'duplicate'
end
if flood_ms > 0 then
  local wait = 0
  for _, key in ipairs(flood_keys) do
    wait = math.max(wait, redis.call('PTTL', key))
  end
  if wait > 0 then
    return {'flood', wait}
  end
end
if max_pending > 0 then
  -- Every comment is refused at the cap, not only those that would be held: otherwise the
  -- refusal would tell a spammer how the classifier saw the comment.
  for _, key in ipairs(held_keys) do
    local held = redis.call('ZCOUNT', key, '(' .. held_since, '+inf')
    if held >= max_pending then
      -- Room comes back when enough of them have left the window.
      local gone = redis.call('ZRANGEBYSCORE', key, '(' .. held_since, '+inf', 'WITHSCORES',
        'LIMIT', held - max_pending, 1)
      return {'too_many_pending', math.max(1, tonumber(gone[2]) - held_since)}
    end
  end
end
redis.call('HSET', KEYS[1], 'depth', depth, unpack(ARGV, 17))
-- Ids grow with time, so scoring by id orders oldest first and makes cursors exact.
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[8], ARGV[7], ARGV[8])
redis.call('ZADD', KEYS[10], ARGV[7], ARGV[8])
if ARGV[10] == '1' then
  redis.call('SET', KEYS[11], ARGV[1], 'EX', ARGV[11])
end
if flood_ms > 0 then
  for _, key in ipairs(flood_keys) do
    redis.call('SET', key, ARGV[1], 'PX', flood_ms)
  end
end
if duplicate_s > 0 then
  redis.call('SET', KEYS[14], ARGV[1], 'EX', duplicate_s)
end
if max_pending > 0 and ARGV[2] ~= 'published' then
  for _, key in ipairs(held_keys) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', held_since)
    redis.call('ZADD', key, ARGV[3], ARGV[1])
    redis.call('PEXPIRE', key, ARGV[15])
  end
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
