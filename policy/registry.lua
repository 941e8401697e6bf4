-- registry.lua - the company registry (Redis script, after the prelude and
-- its contract): the companies whose company-wide keys (the daily top, the
-- incident index, the digest's hits) the readers that go over every company
-- read, instead of a SCAN of the whole keyspace.
--
-- REGISTRY <prefix>:v2:{@}:co: a sorted set, company -> store time it was
--   last announced, and the member "@<store time the registry was made>"
--   (no company holds "@") with score 0, the lowest: a daemon that sees it
--   change (forget --all, a Redis restarted empty) announces its companies
--   again.
-- "add" (the daemons' watcher thread, a second after they first meter a
--   company on a store day; postmeterctl incident open; postmeterctl
--   migrate): ZADD the companies after the contract's arguments at now,
--   remove the members older than A.keep seconds, keep the A.max latest,
--   and let the key expire A.keep seconds after this add (a registry gone
--   is one made anew: the daemons announce their companies again);
--   nothing while the data is in layout 1 (the prelude's guard: postmeterctl
--   migrate fills it). Without companies it is a check: it writes nothing.
-- "list": the members announced since the start of UTC day A.since (-N: of
--   the last N days, today counts; "": every member).
-- One key, in the slot of the tag {@}: it runs on a Redis Cluster.
-- The reply: store time, n (add: members written; list: members), born
-- (add: when the registry was made; -1 none, -2 layout 1; list: -1), then
-- the members (list).
--
-- SPDX-License-Identifier: BSD-2-Clause

-- When the registry was made, and its member: the lowest, "@<time>", or nil.
local function registry_born()
    local low = redis.call('ZREVRANGE', KEYS[K.co], -1, -1)[1]
    if low and string.sub(low, 1, 1) == '@' then
        return tonumber(string.sub(low, 2)), low
    end
    return nil, nil
end

local out = {}
out[R.now] = now
if ARGV[A.op] == 'add' then
    if layout_want == '1' then -- the data is in layout 1 (the guard said so): no registry
        out[R.n] = 0
        out[R.born] = -2
        return out
    end
    local born, mark = registry_born()
    local n, first = 0, A.max + 1
    if first > #ARGV then -- a check
        out[R.n] = 0
        out[R.born] = born or -1
        return out
    end
    for i = first, #ARGV, 100 do
        local zadd = {}
        for j = i, math.min(i + 99, #ARGV) do
            zadd[#zadd + 1] = now
            zadd[#zadd + 1] = ARGV[j]
        end
        redis.call('ZADD', KEYS[K.co], unpack(zadd))
        n = n + #zadd / 2
    end
    if mark then
        redis.call('ZREM', KEYS[K.co], mark)
    end
    born = born or now
    redis.call('ZREMRANGEBYSCORE', KEYS[K.co], '-inf', '(' .. (now - tonumber(ARGV[A.keep])))
    redis.call('ZREMRANGEBYRANK', KEYS[K.co], 0, -1 - tonumber(ARGV[A.max]))
    redis.call('ZADD', KEYS[K.co], 0, '@' .. born)
    redis.call('EXPIRE', KEYS[K.co], tonumber(ARGV[A.keep])) -- gone with its last member
    out[R.n] = n
    out[R.born] = born
    return out
end
local since, from = tonumber(ARGV[A.since]), '-inf'
if since and since >= 0 then
    from = since * DAY
elseif since then
    from = (today + since + 1) * DAY
end
local members = redis.call('ZREVRANGEBYSCORE', KEYS[K.co], '+inf', from)
out[R.n] = 0
out[R.born] = -1
for _, m in ipairs(members) do
    if string.sub(m, 1, 1) ~= '@' then
        out[#out + 1] = m
        out[R.n] = out[R.n] + 1
    end
end
return out
