-- top.lua - the senders of the daily top index, for postmeterctl top and the
-- metrics refresher (Redis script, after the prelude and its contract).
--
-- TOP INDEX <prefix>:v1:top:<day> (written by meter.lua): per UTC
--   day, a sorted set of the senders by messages counted that day.
-- The reply is store time, then the senders of the last A.days days (today
--   first), each once, by messages within a day, at most A.limit per day (0:
--   all).
--
-- SPDX-License-Identifier: BSD-2-Clause

local out, seen = {}, {}
out[R.now] = now
local limit = tonumber(ARGV[A.limit])
for d = 0, tonumber(ARGV[A.days]) - 1 do
    local key = ARGV[A.top_prefix] .. (today - d)
    for _, sender in ipairs(redis.call('ZREVRANGE', key, 0, limit > 0 and limit - 1 or -1)) do
        if not seen[sender] then
            seen[sender] = true
            out[#out + 1] = sender
        end
    end
end
return out
