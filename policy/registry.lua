-- registry.lua - the company registry (Redis script, after the prelude and
-- its contract): the companies whose company-wide keys (the daily top, the
-- incident index, the digest's hits) the readers that go over every company
-- read, instead of a SCAN of the whole keyspace.
--
-- REGISTRY <prefix>:v2:{@}:co: a sorted set, company -> store time it was
--   last announced. "add" (the daemons' watcher thread, a second after
--   they first meter a company on a store day; postmeterctl incident open;
--   postmeterctl migrate): ZADD the companies after the contract's
--   arguments at now, remove the members older than A.keep seconds, keep the
--   A.max latest; nothing while the data is in layout 1 (the prelude's guard:
--   postmeterctl migrate fills it). "list": the members announced since the start of UTC day
--   A.since (-N: of the last N days, today counts; "": every member).
-- One key, in the slot of the tag {@}: it runs on a Redis Cluster.
-- The reply: store time, n (add: members written; list: members), then
-- the members (list).
--
-- SPDX-License-Identifier: BSD-2-Clause

local out = {}
out[R.now] = now
if ARGV[A.op] == 'add' then
    if layout_want == '1' then -- the data is in layout 1 (the guard said so): no registry
        out[R.n] = 0
        return out
    end
    local n, first = 0, A.max + 1
    for i = first, #ARGV, 100 do
        local zadd = {}
        for j = i, math.min(i + 99, #ARGV) do
            zadd[#zadd + 1] = now
            zadd[#zadd + 1] = ARGV[j]
        end
        redis.call('ZADD', KEYS[K.co], unpack(zadd))
        n = n + #zadd / 2
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[K.co], '-inf', '(' .. (now - tonumber(ARGV[A.keep])))
    redis.call('ZREMRANGEBYRANK', KEYS[K.co], 0, -1 - tonumber(ARGV[A.max]))
    out[R.n] = n
    return out
end
local since, from = tonumber(ARGV[A.since]), '-inf'
if since and since >= 0 then
    from = since * DAY
elseif since then
    from = (today + since + 1) * DAY
end
local members = redis.call('ZREVRANGEBYSCORE', KEYS[K.co], '+inf', from)
out[R.n] = #members
for _, m in ipairs(members) do
    out[#out + 1] = m
end
return out
