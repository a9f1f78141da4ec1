-- Claim the given comments for one moderator: those another moderator holds, and
-- unknown ids, are answered as unavailable.
-- KEYS: 1 leases, 2 lease owners, 3.. the comments' hashes (in the order of the ids)
-- ARGV: 1 owner, 2 lease length (ms), 3.. ids
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[2])
local taken, unavailable = {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local holder = redis.call('HGET', KEYS[2], id)
  local lease_end = redis.call('ZSCORE', KEYS[1], id)
  local free = (not holder) or (not lease_end) or tonumber(lease_end) <= now
  if redis.call('EXISTS', KEYS[i]) == 1 and (free or holder == ARGV[1]) then
    redis.call('ZADD', KEYS[1], expires, id)
    redis.call('HSET', KEYS[2], id, ARGV[1])
    taken[#taken + 1] = id
  else
    unavailable[#unavailable + 1] = id
  end
end
return {expires, taken, unavailable}
