-- warmup_state.lua - the warm-up hash's days and fields, shared by the meter
-- script (meter_warmup.lua) and the warm-up script (warmup.lua, postmeterctl
-- warmup reset|skip); Redis script piece, after the prelude.
--
-- WARM-UP DAYS are local days of the configured time zone:
--   floor((now + offset) / 86400), the offset being the zone's UTC offset at
--   the time of the request (0 for UTC).
-- WARM-UP HASH <prefix>:v2:{C}:s:<sender>:wu (a domain's: {<domain>}:d:wu):
--   start (the warm-up day it began), stage (0-based stage of the last active
--   day), last (the last warm-up day the scope sent on), today (messages
--   counted on day "last").
--
-- SPDX-License-Identifier: BSD-2-Clause

-- The warm-up day of now, under a zone offset in seconds.
local function warmup_day(offset)
    return math.floor((now + offset) / DAY)
end

-- A warm-up hash's fields (start and last nil when it has none).
local function warmup_read(key)
    local f = redis.call('HMGET', key, 'start', 'stage', 'last', 'today')
    return {start = tonumber(f[1]), stage = tonumber(f[2]) or 0, last = tonumber(f[3]),
            today = tonumber(f[4]) or 0}
end

-- Write a warm-up hash's fields, as of warm-up day wday.
local function warmup_write(key, w, wday)
    redis.call('HSET', key, 'start', w.start, 'stage', w.stage, 'last', wday, 'today', w.today)
end
