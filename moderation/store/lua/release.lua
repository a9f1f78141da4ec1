-- Give a claimed comment back before its lease runs out.
-- KEYS: 1 leases, 2 lease owners
-- ARGV: 1 id, 2 owner, 3 "1" to release another moderator's claim (admins)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = redis.call('HGET', KEYS[2], ARGV[1])
local lease_end = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not holder) or (not lease_end) or tonumber(lease_end) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 'not_claimed'
end
if holder ~= ARGV[2] and ARGV[3] ~= '1' then
  return 'held_by_other'
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 'released'
