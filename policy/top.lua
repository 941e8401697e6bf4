-- top.lua - the senders of the daily top index, for postmeterctl top and the
-- metrics refresher (Redis script, after the prelude and its contract).
--
-- TOP INDEX <prefix>:v2:{<company>}:top:<day> (written by meter.lua): per
--   company and UTC day, a sorted set of the senders by messages counted
--   that day (layout 1: one <prefix>:v2:{C}:top:<day> for every company).
-- A.top_prefix holds the prefix of the index to read (layout 2: of one
--   company; several, space-separated, are read and merged, but the store
--   merges several companies in C, store_redis_admin.c top_merged, so that no
--   run loops over all of them); its keys are not declared: one node only.
-- The reply is store time, then the senders of the last A.days days (today
--   first), each once, by messages within a day (ties as ZREVRANGE orders
--   them), at most A.limit per day (0: all).
--
-- SPDX-License-Identifier: BSD-2-Clause

local out, seen = {}, {}
out[R.now] = now
local limit = tonumber(ARGV[A.limit])
local prefixes = {}
for p in string.gmatch(ARGV[A.top_prefix], '%S+') do
    prefixes[#prefixes + 1] = p
end
for d = 0, tonumber(ARGV[A.days]) - 1 do
    local day = {}
    for _, p in ipairs(prefixes) do
        local flat = redis.call('ZREVRANGE', p .. (today - d), 0, limit > 0 and limit - 1 or -1,
                                'WITHSCORES')
        for i = 1, #flat, 2 do
            day[#day + 1] = {flat[i], tonumber(flat[i + 1])}
        end
    end
    if #prefixes > 1 then
        table.sort(day, function(x, y)
            if x[2] ~= y[2] then
                return x[2] > y[2]
            end
            return x[1] > y[1]
        end)
    end
    for i = 1, limit > 0 and math.min(limit, #day) or #day do
        local sender = day[i][1]
        if not seen[sender] then
            seen[sender] = true
            out[#out + 1] = sender
        end
    end
end
return out
