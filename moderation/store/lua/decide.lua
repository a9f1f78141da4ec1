-- Decide one comment, all or nothing: its status, every index it is in, the lease,
-- the audit entry, the labeled example for training and the day's count per moderator.
-- KEYS: 1 comment, 2 old status index, 3 new status index, 4 thread's old status index,
--       5 thread's new status index, 6 old uncertainty index, 7 new uncertainty index,
--       8 thread's published index, 9 thread roots or the parent's replies,
--       10 leases, 11 lease owners, 12 audit stream, 13 training log stream,
--       14 today's decisions per moderator, 15 hourly activity,
--       16 thread's old uncertainty index, 17 thread's new uncertainty index
-- ARGV: 1 id, 2 the status the caller read (the keys were built for it), 3 new status,
--       4 action, 5 owner ("token-id:name"), 6 moderator name, 7 decided at (ISO 8601),
--       8 label for training, 9 zero-padded id, 10 the hour (epoch hours)
local id = ARGV[1]
local current = redis.call('HMGET', KEYS[1], 'status', 'decided_by', 'decided_at')
if not current[1] then
  return {'not_found'}
end
if current[1] ~= ARGV[2] then
  return {'stale', current[1]}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = redis.call('HGET', KEYS[11], id)
local lease_end = redis.call('ZSCORE', KEYS[10], id)
if holder and holder ~= ARGV[5] and lease_end and tonumber(lease_end) > now then
  return {'conflict', current[1], holder}
end
if current[1] == ARGV[3] and current[2] then
  -- A person decided this already: deciding twice changes and counts nothing, and the
  -- caller's own claim ends.
  if holder == ARGV[5] then
    redis.call('ZREM', KEYS[10], id)
    redis.call('HDEL', KEYS[11], id)
  end
  return {'already', current[1], current[2] or '', current[3] or ''}
end
local old = current[1]
-- A person confirming what the machine decided (spam held as spam, a published comment
-- approved) moves nothing, but it is a decision: audited, counted and a label to learn.
if old ~= ARGV[3] then
  local distance = redis.call('ZSCORE', KEYS[6], ARGV[9]) or '0.5'
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('ZREM', KEYS[6], ARGV[9])
  redis.call('ZREM', KEYS[16], ARGV[9])
  redis.call('ZADD', KEYS[3], id, id)
  redis.call('ZADD', KEYS[5], id, id)
  redis.call('ZADD', KEYS[7], distance, ARGV[9])
  redis.call('ZADD', KEYS[17], distance, ARGV[9])
  if old == 'published' then
    redis.call('ZREM', KEYS[8], id)
    redis.call('ZREM', KEYS[9], id)
  elseif ARGV[3] == 'published' then
    redis.call('ZADD', KEYS[8], id, id)
    redis.call('ZADD', KEYS[9], id, id)
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'decision', ARGV[4],
  'decided_by', ARGV[6], 'decided_at', ARGV[7])
redis.call('ZREM', KEYS[10], id)
redis.call('HDEL', KEYS[11], id)
redis.call('XADD', KEYS[12], '*', 'comment_id', id, 'action', ARGV[4], 'from', old,
  'to', ARGV[3], 'moderator', ARGV[6], 'owner', ARGV[5], 'at', ARGV[7])
local c = redis.call('HMGET', KEYS[1], 'content', 'author', 'url', 'thread', 'model_version',
  'score')
redis.call('XADD', KEYS[13], '*', 'label', ARGV[8], 'content', c[1] or '', 'author', c[2] or '',
  'url', c[3] or '', 'thread', c[4] or '', 'comment_id', id, 'source', 'moderator',
  'source_id', 'comment:' .. id, 'moderator', ARGV[6], 'decided_at', ARGV[7],
  'model_version', c[5] or '', 'score', c[6] or '')
redis.call('HINCRBY', KEYS[14], ARGV[6], 1)
redis.call('EXPIRE', KEYS[14], 400 * 86400)
if old == 'pending' then
  redis.call('HINCRBY', KEYS[15], ARGV[10] .. ':out', 1)
end
return {'decided', old}
