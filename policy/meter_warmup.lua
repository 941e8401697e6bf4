-- meter_warmup.lua - the meter script's warm-up (Redis script piece; after
-- warmup_state.lua, whose days and fields it uses, and meter_base.lua; reads
-- the reputation meter_reputation.lua sets before any scope is checked).
--
-- WARM-UP: a scope with no state, or silent for dormant days, starts at
--   stage 0; on the first message of a later day the stage moves on by one
--   (one stage per active sending day), unless the sender's hard-bounce rate
--   over the last 7 days (meter_reputation.lua, whatever min_sends) is above
--   max_ppm or its reputation level halves its limits.
--   While the stage has a cap, messages on this day must stay within the day
--   cap, and messages in the rolling hour (the "mh" counter) within the hour
--   cap; past the curve's end the plan's limits apply alone. Over the day
--   cap, retry_at is the next local midnight.
-- LEARNING: while the installation learns (learning.days), A.wu_learn is
--   learning.established_days: a scope whose stage reaches that many active
--   days (stage + 1) is established, and its stage moves past the curve's
--   end, as "postmeterctl warmup skip" would write it.
--
-- TTL and MEMORY: the warm-up hash (4 fields, under 200 bytes) expires
--   dormant + 1 days after the first counted message of its last sending day.
--
-- SPDX-License-Identifier: BSD-2-Clause

local wday_offset = tonumber(ARGV[A.wday_offset]) or 0
local wu_learn = tonumber(ARGV[A.wu_learn]) or 0
local wday = warmup_day(wday_offset)

-- The warm-up's functions, made only when a scope has a curve (meter.lua
-- asks warmup_state of a scope with one; the other functions follow from it).
local next_wday, parse_curve, warmup_state, warmup_count
if sv[1].curve ~= '' or (nscopes == 2 and sv[2].curve ~= '') then
    -- The store time the next warm-up day begins (the next local midnight).
    function next_wday()
        return (wday + 1) * DAY - wday_offset
    end

    -- Parse a curve "d:h,d:h" into a list of {day_cap, hour_cap}.
    function parse_curve(text)
        local curve = {}
        for d, h in string.gmatch(text, '(%d+):(%d+)') do
            table.insert(curve, {tonumber(d), tonumber(h)})
        end
        return curve
    end

    -- A scope's warm-up state as of today, before this request, under its values
    -- v (meter_base.lua); nil without a curve.
    function warmup_state(key, v)
        if v.curve == '' then -- no warm-up: nothing to parse
            return nil
        end
        local curve = parse_curve(v.curve)
        if #curve == 0 then
            return nil
        end
        local w = warmup_read(key)
        w.ppm = rep.ppm
        w.stored_last = w.last
        if not w.last or not w.start or wday - w.last >= v.dormant then
            w.start, w.stage, w.today = wday, 0, 0
        elseif w.last < wday then
            if w.ppm <= v.max_ppm and rep.level < 2 then
                w.stage = w.stage + 1
            end
            w.today = 0
        end
        if wu_learn > 0 and w.stage + 1 >= wu_learn and w.stage < #curve then
            w.stage = #curve
        end
        local c = curve[w.stage + 1]
        if c then
            w.day_cap, w.hour_cap = c[1], c[2]
        end
        return w
    end

    -- Record a counted request in a scope's warm-up state.
    function warmup_count(key, w, v)
        w.today = w.today + add.m
        warmup_write(key, w, wday)
        if w.stored_last ~= wday then
            redis.call('EXPIRE', key, (v.dormant + 1) * DAY)
        end
    end
end
