-- Claim up to N comments of one index for one moderator. Comments another moderator
-- holds are skipped; an expired lease counts as free, so claimed work comes back by
-- itself. The cost is O(log n) plus the live claims passed over, never the queue size.
-- KEYS: 1 the index to take from (status, thread status or uncertainty sorted set),
--       2 leases (id -> expiry ms), 3 lease owners (id -> "token-id:name")
-- ARGV: 1 owner, 2 lease length (ms), 3 how many, 4 "asc" or "desc",
--       5 "padded" when the members are zero-padded ids, 6 most members to look at
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 500)
if #expired > 0 then
  redis.call('ZREM', KEYS[2], unpack(expired))
  redis.call('HDEL', KEYS[3], unpack(expired))
end
local want = tonumber(ARGV[3])
local budget = tonumber(ARGV[6])
local taken = {}
local start = 0
local batch = want * 2 + 16
while #taken < want and start < budget do
  local members
  if ARGV[4] == 'desc' then
    members = redis.call('ZREVRANGE', KEYS[1], start, start + batch - 1)
  else
    members = redis.call('ZRANGE', KEYS[1], start, start + batch - 1)
  end
  if #members == 0 then
    break
  end
  for _, member in ipairs(members) do
    local id = member
    if ARGV[5] == 'padded' then
      id = (string.gsub(member, '^0+', ''))
    end
    local holder = redis.call('HGET', KEYS[3], id)
    local lease_end = redis.call('ZSCORE', KEYS[2], id)
    local free = (not holder) or (not lease_end) or tonumber(lease_end) <= now
    if free or holder == ARGV[1] then
      redis.call('ZADD', KEYS[2], expires, id)
      redis.call('HSET', KEYS[3], id, ARGV[1])
      taken[#taken + 1] = id
      if #taken >= want then
        break
      end
    end
  end
  start = start + batch
end
return {expires, taken}
